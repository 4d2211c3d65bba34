package retry_test

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/retry"
)

func TestInvalidPoliciesAreRejectedWithTheReason(t *testing.T) {
	ok := retry.BoundedPolicy()
	for name, c := range map[string]struct {
		mutate func(*retry.Policy)
		want   string
	}{
		"zero initial":      {func(p *retry.Policy) { p.Initial = 0 }, "initial delay 0s must be positive"},
		"negative max":      {func(p *retry.Policy) { p.Max = -time.Second }, "maximum delay -1s must be positive"},
		"cap below initial": {func(p *retry.Policy) { p.Initial, p.Max = time.Minute, time.Second }, "below the initial delay"},
		"multiplier < 1":    {func(p *retry.Policy) { p.Multiplier = 0.5 }, "multiplier 0.5"},
		"negative attempts": {func(p *retry.Policy) { p.MaxAttempts = -1 }, "max attempts -1"},
		"negative deadline": {func(p *retry.Policy) { p.Deadline = -time.Hour }, "deadline -1h0m0s"},
		"negative stall":    {func(p *retry.Policy) { p.StallAfter = -1 }, "stall threshold"},
		"negative floor":    {func(p *retry.Policy) { p.Min = -1 }, "minimum delay -1ns"},
		"floor above cap":   {func(p *retry.Policy) { p.Min = p.Max + 1 }, "minimum delay"},
	} {
		p := ok
		c.mutate(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", name, err, c.want)
		}
		if _, err := retry.New(nil, nil, peerID(1), retry.WithPolicy(mvdsguard.OneToOne, retry.Content, p)); err == nil ||
			!strings.Contains(err.Error(), "one_to_one/content") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New error = %v; want it to name the flow and %q", name, err, c.want)
		}
	}
	if err := retry.DefaultPolicies().Set(mvdsguard.Flow(42), retry.Content, ok); err == nil || !strings.Contains(err.Error(), "unknown flow 42") {
		t.Errorf("policy for an unknown flow: %v", err)
	}
	if err := retry.DefaultPolicies().Set(mvdsguard.OneToOne, retry.Kind(9), ok); err == nil || !strings.Contains(err.Error(), "unknown kind 9") {
		t.Errorf("policy for an unknown kind: %v", err)
	}
}

func TestDefaultsRetryRequestsAndMembershipForeverAndChatUntilADeadline(t *testing.T) {
	ps := retry.DefaultPolicies()
	for _, c := range []struct {
		flow       mvdsguard.Flow
		kind       retry.Kind
		indefinite bool
	}{
		{mvdsguard.ContactRequest, retry.Control, true},
		{mvdsguard.ContactRequest, retry.Content, true},
		{mvdsguard.JoinRequest, retry.Control, true},
		{mvdsguard.PrivateGroup, retry.Control, true},
		{mvdsguard.PrivateGroup, retry.Content, false},
		{mvdsguard.OneToOne, retry.Content, false},
		{mvdsguard.OneToOne, retry.Control, false},
		{mvdsguard.Other, retry.Content, false},
	} {
		p, ok := ps.Policy(c.flow, c.kind)
		if !ok || p.Indefinite() != c.indefinite || p.Validate() != nil {
			t.Errorf("%s/%s: %+v (indefinite %v); want indefinite %v", c.flow, c.kind, p, p.Indefinite(), c.indefinite)
		}
		if p.Max > 10*time.Minute || p.StallAfter == 0 {
			t.Errorf("%s/%s: cap %v, stall %v; want a cap in minutes and a stall threshold", c.flow, c.kind, p.Max, p.StallAfter)
		}
	}
}

func TestDelayIsFullJitterUnderACappedExponentialCeiling(t *testing.T) {
	p := retry.Policy{Initial: time.Second, Max: time.Minute, Multiplier: 2}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 6: 32 * time.Second, 7: time.Minute, 60: time.Minute} {
		if got := p.Ceiling(n); got != want {
			t.Errorf("Ceiling(%d) = %v; want %v", n, got, want)
		}
	}
	r := rand.New(rand.NewSource(1<<20 ^ 2))
	var low, high int
	for i := 0; i < 10000; i++ {
		d := p.Delay(3, r)
		if d < 0 || d > 4*time.Second {
			t.Fatalf("Delay(3) = %v outside [0, 4s]", d)
		}
		if d < time.Second {
			low++
		}
		if d > 3*time.Second {
			high++
		}
	}
	// Uniform over [0, 4s]: a quarter in each end.
	if low < 2200 || low > 2800 || high < 2200 || high > 2800 {
		t.Errorf("delays not uniform: %d below 1s, %d above 3s of 10000", low, high)
	}
}

func TestDelayNeverFallsBelowTheFloor(t *testing.T) {
	p := retry.Policy{Initial: 4 * time.Second, Max: time.Minute, Multiplier: 2, Min: time.Second}
	r := rand.New(rand.NewSource(7))
	var low int
	for i := 0; i < 10000; i++ {
		d := p.Delay(1, r)
		if d < time.Second || d > 4*time.Second {
			t.Fatalf("Delay(1) = %v outside [1s, 4s]", d)
		}
		if d < 2*time.Second {
			low++
		}
	}
	// Uniform over [1s, 4s]: a third below 2s.
	if low < 3000 || low > 3700 {
		t.Errorf("delays not uniform above the floor: %d of 10000 below 2s", low)
	}
	// A floor above the ceiling is the delay.
	p.Min = 10 * time.Second
	if d := p.Delay(1, r); d != 10*time.Second {
		t.Errorf("Delay(1) with the floor above the ceiling = %v; want 10s", d)
	}
}
