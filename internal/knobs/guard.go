package knobs

import "time"

// Guard holds a retry.Guard's settings for simulations and benchmarks. The
// zero value is what every application gets.
type Guard struct {
	// EpochLength is the real time one epoch stands for when the Guard
	// converts delays, the burst rate and parking times to epochs (0: the
	// node's epoch duration). Simulations run epochs faster than real time.
	EpochLength time.Duration
	// NoRescheduleOnStart: starting while online is not a reconnect.
	// Simulations that fast-forward a node by restarting it set it, or every
	// restart would look like a reconnect and flatter the Guard.
	NoRescheduleOnStart bool
	// Seed, when not zero, makes the jitter reproducible.
	Seed int64
}

// GuardOption turns Guard settings into a retry.Option (returned as any).
// Package retry sets it.
var GuardOption func(Guard) any
