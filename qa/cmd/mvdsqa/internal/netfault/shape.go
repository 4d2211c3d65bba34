package netfault

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Shape is what a path does to the packets that take it, in the terms of
// netem: a delay with a jitter around it, a loss, duplication and
// reordering percentage, and a rate limit. The zero Shape leaves packets
// alone.
type Shape struct {
	Delay, Jitter time.Duration
	// Loss, Duplicate and Reorder are percentages, 0 to 100.
	Loss, Duplicate, Reorder float64
	// Rate is a limit in bits per second; 0 is none.
	Rate uint64
}

// Limits of a Shape.
const (
	MaxDelay = time.Minute
	MinRate  = 100       // bit/s
	MaxRate  = 100 * 1e9 // bit/s
)

// Validate says what is impossible about a shape, naming the field as a
// scenario writes it.
func (s Shape) Validate() error {
	var errs []error
	if s.Delay < 0 || s.Delay > MaxDelay {
		errs = append(errs, fmt.Errorf("delay %v: want 0 to %v", s.Delay, MaxDelay))
	}
	if s.Jitter < 0 || s.Jitter > s.Delay {
		errs = append(errs, fmt.Errorf("jitter %v: want 0 up to the delay (%v); a packet cannot leave before it was sent", s.Jitter, s.Delay))
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", s.Loss}, {"duplicate", s.Duplicate}, {"reorder", s.Reorder}} {
		if !(p.v >= 0 && p.v <= 100) {
			errs = append(errs, fmt.Errorf("%s %v%%: want a percentage from 0 to 100", p.name, p.v))
		}
	}
	if s.Reorder > 0 && s.Delay == 0 {
		errs = append(errs, errors.New("reorder needs a delay: the packets not reordered are the ones delayed"))
	}
	if s.Rate != 0 && (s.Rate < MinRate || s.Rate > MaxRate) {
		errs = append(errs, fmt.Errorf("rate %s: want %s to %s", FormatRate(s.Rate), FormatRate(MinRate), FormatRate(MaxRate)))
	}
	return errors.Join(errs...)
}

// IsZero reports whether the shape changes nothing.
func (s Shape) IsZero() bool { return s == Shape{} }

// NeedsNetem reports whether the shape asks for what only netem can do.
func (s Shape) NeedsNetem() bool { return s.Duplicate > 0 || s.Reorder > 0 }

// String is the shape as tc's netem would be told it.
func (s Shape) String() string {
	var parts []string
	if s.Delay > 0 {
		d := "delay " + s.Delay.String()
		if s.Jitter > 0 {
			d += " ± " + s.Jitter.String()
		}
		parts = append(parts, d)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", s.Loss}, {"duplicate", s.Duplicate}, {"reorder", s.Reorder}} {
		if p.v > 0 {
			parts = append(parts, fmt.Sprintf("%s %s%%", p.name, strconv.FormatFloat(p.v, 'f', -1, 64)))
		}
	}
	if s.Rate > 0 {
		parts = append(parts, "rate "+FormatRate(s.Rate))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

var rateUnits = []struct {
	suffix string
	mult   uint64
}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}

// ParseRate reads a rate as tc writes it: 1kbit, 2.5mbit, 100bit, 1gbit.
func ParseRate(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, u := range rateUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || !(v > 0) || v*float64(u.mult) > MaxRate*10 {
				break
			}
			return uint64(v * float64(u.mult)), nil
		}
	}
	return 0, fmt.Errorf("%q is not a rate (write 1kbit, 500kbit, 2mbit, 1gbit)", s)
}

// FormatRate writes a rate as tc reads it.
func FormatRate(bps uint64) string {
	for _, u := range rateUnits {
		if bps >= u.mult && bps%u.mult == 0 {
			return strconv.FormatUint(bps/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatUint(bps, 10) + "bit"
}

// ParsePercent reads 50%, 0.5% or 50.
func ParsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a percentage (write 50%% or 0.5%%)", s)
	}
	return v, nil
}

// netemArgs is the shape as arguments of `tc qdisc … netem`.
func (s Shape) netemArgs(withRate bool) []string {
	var a []string
	if s.Delay > 0 {
		a = append(a, "delay", usec(s.Delay))
		if s.Jitter > 0 {
			a = append(a, usec(s.Jitter))
		}
	}
	pct := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "%" }
	if s.Loss > 0 {
		a = append(a, "loss", pct(s.Loss))
	}
	if s.Duplicate > 0 {
		a = append(a, "duplicate", pct(s.Duplicate))
	}
	if s.Reorder > 0 {
		a = append(a, "reorder", pct(s.Reorder))
	}
	if withRate && s.Rate > 0 {
		a = append(a, "rate", FormatRate(s.Rate))
	}
	// netem's default queue of 1000 packets overflows at a 1 s delay under
	// load; hold as many as a second of a fast link.
	a = append(a, "limit", "100000")
	return a
}

func usec(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) + "us" }
