package retry

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"time"

	"github.com/mvdsguard/mvdsguard"
)

// Kind separates, within one flow, the messages that change state (requests,
// responses, membership changes) from chat content (messages, edits,
// reactions). It only matters where the two need different policies: in a
// private group, a membership change must arrive eventually, a chat message
// may fail and be retried by the user.
type Kind uint8

const (
	// Content is chat content: messages, edits, deletions, reactions, pins.
	// It is the zero value.
	Content Kind = iota
	// Control is a state change: contact and join requests and their
	// responses, membership updates, invitations.
	Control
)

func (k Kind) String() string {
	switch k {
	case Content:
		return "content"
	case Control:
		return "control"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k == Content || k == Control }

// Policy says how long a message keeps retrying and how often.
//
// The delay before attempt n+1 is drawn uniformly from [Min, min(Max, Initial ·
// Multiplier^(n-1))] ("full jitter" above a floor), so peers that lost
// connectivity together do not retry in lockstep. Min keeps an attempt from
// following the previous one before an acknowledgement could have come back:
// status-go's suites show a copy sent again 0.3 s after the first one, and the
// duplicate reaching the recipient, without it. A message fails when
// MaxAttempts attempts went unacknowledged (after one more delay for a late
// ack) or when Deadline has passed since it was sent; with neither set it
// retries indefinitely. A pending message is marked stalled once StallAfter
// has passed, so the GUI can show it as pending rather than sent.
type Policy struct {
	Initial     time.Duration
	Max         time.Duration
	Min         time.Duration // the shortest delay between two attempts (0: none)
	Multiplier  float64
	MaxAttempts int           // 0: no limit
	Deadline    time.Duration // 0: no deadline
	StallAfter  time.Duration // 0: never stalled
}

// Indefinite reports whether the policy never gives up.
func (p Policy) Indefinite() bool { return p.MaxAttempts == 0 && p.Deadline == 0 }

// Validate rejects a policy that cannot be followed.
func (p Policy) Validate() error {
	switch {
	case p.Initial <= 0:
		return fmt.Errorf("initial delay %v must be positive", p.Initial)
	case p.Max <= 0:
		return fmt.Errorf("maximum delay %v must be positive", p.Max)
	case p.Max < p.Initial:
		return fmt.Errorf("maximum delay %v is below the initial delay %v", p.Max, p.Initial)
	case p.Min < 0 || p.Min > p.Max:
		return fmt.Errorf("minimum delay %v must be between 0 and the maximum delay %v", p.Min, p.Max)
	case p.Multiplier < 1 || math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0):
		return fmt.Errorf("multiplier %v must be a number ≥ 1", p.Multiplier)
	case p.MaxAttempts < 0:
		return fmt.Errorf("max attempts %d is negative", p.MaxAttempts)
	case p.Deadline < 0:
		return fmt.Errorf("deadline %v is negative", p.Deadline)
	case p.StallAfter < 0:
		return fmt.Errorf("stall threshold %v is negative", p.StallAfter)
	}
	return nil
}

// Ceiling is the upper bound of the delay after the n-th attempt (n ≥ 1).
func (p Policy) Ceiling(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(n-1))
	if d >= float64(p.Max) || math.IsInf(d, 0) {
		return p.Max
	}
	return time.Duration(d)
}

// Delay draws the delay after the n-th attempt with full jitter, no shorter
// than Min.
func (p Policy) Delay(n int, r *rand.Rand) time.Duration {
	c := p.Ceiling(n)
	if c <= p.Min {
		return p.Min
	}
	return p.Min + time.Duration(r.Int63n(int64(c-p.Min)+1))
}

// IndefinitePolicy is the default for contact requests, join requests and
// their responses (any kind) and private-group membership changes (Control):
// they retry indefinitely, because losing one leaves two people disagreeing
// about a relationship with no way to notice. The delay is capped at 5
// minutes — not days, as in stock mvds — so a recipient who comes back is
// reached within minutes even without a reconnect on our side. Stalled after
// 2 minutes: long enough for a normal round trip through store nodes, short
// enough that the GUI shows "pending" before the user wonders.
func IndefinitePolicy() Policy {
	return Policy{Initial: 5 * time.Second, Max: 5 * time.Minute, Multiplier: 2, StallAfter: 2 * time.Minute}
}

// BoundedPolicy is the default for chat content in 1:1 and private-group
// chats, and for everything else (Other): it fails after 10 attempts or 24
// hours, whichever comes first, and the GUI offers a retry button — a message
// that old is out of context, and the user should decide. The cap is 5
// minutes as above; 10 attempts then span roughly half an hour of online time
// (offline time does not count).
func BoundedPolicy() Policy {
	return Policy{Initial: 5 * time.Second, Max: 5 * time.Minute, Multiplier: 2, MaxAttempts: 10,
		Deadline: 24 * time.Hour, StallAfter: 2 * time.Minute}
}

type policyKey struct {
	flow mvdsguard.Flow
	kind Kind
}

// Policies maps every (flow, kind) to its policy. The zero value has none:
// start from DefaultPolicies.
type Policies struct{ m map[policyKey]Policy }

// DefaultPolicies returns the documented defaults: IndefinitePolicy for
// contact and join requests and private-group membership changes,
// BoundedPolicy for everything else.
func DefaultPolicies() Policies {
	p := Policies{m: map[policyKey]Policy{}}
	for _, f := range mvdsguard.Flows {
		for _, k := range []Kind{Content, Control} {
			switch {
			case f == mvdsguard.ContactRequest || f == mvdsguard.JoinRequest:
				p.m[policyKey{f, k}] = IndefinitePolicy()
			case f == mvdsguard.PrivateGroup && k == Control:
				p.m[policyKey{f, k}] = IndefinitePolicy()
			default:
				p.m[policyKey{f, k}] = BoundedPolicy()
			}
		}
	}
	return p
}

// Policy returns the policy of (flow, kind).
func (ps Policies) Policy(f mvdsguard.Flow, k Kind) (Policy, bool) {
	p, ok := ps.m[policyKey{f, k}]
	return p, ok
}

// Set replaces the policy of (flow, kind) after validating it.
func (ps Policies) Set(f mvdsguard.Flow, k Kind, p Policy) error {
	if !f.Valid() {
		return fmt.Errorf("policy for unknown flow %d", uint8(f))
	}
	if !k.valid() {
		return fmt.Errorf("policy for unknown kind %d", uint8(k))
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("policy for %s/%s: %w", f, k, err)
	}
	if ps.m == nil {
		return errors.New("policies: the zero value holds no table; start from DefaultPolicies")
	}
	ps.m[policyKey{f, k}] = p
	return nil
}
