package retry

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/internal/knobs"
	"github.com/mvdsguard/mvdsguard/mvds"
)

// Option configures a Guard.
type Option func(*config) error

type config struct {
	policies    Policies
	conn        Connectivity
	clock       Clock
	burst       Burst
	watchEvery  time.Duration // 0: no clock watch
	jumpAtLeast time.Duration
	sweepEvery  time.Duration
	registerer  prometheus.Registerer
	logger      *zap.Logger
	nodeOptions []mvds.Option
	sim         knobs.Guard
}

func defaultConfig() config {
	return config{
		policies:    DefaultPolicies(),
		burst:       DefaultBurst(),
		watchEvery:  time.Second,
		jumpAtLeast: 10 * time.Second,
		sweepEvery:  time.Second,
		logger:      zap.NewNop(),
	}
}

func init() {
	knobs.GuardOption = func(k knobs.Guard) any {
		return Option(func(c *config) error {
			if k.EpochLength < 0 {
				return fmt.Errorf("epoch length %v must be positive", k.EpochLength)
			}
			c.sim = k
			return nil
		})
	}
}

// WithPolicy replaces the policy of one flow and kind.
func WithPolicy(f mvdsguard.Flow, k Kind, p Policy) Option {
	return func(c *config) error { return c.policies.Set(f, k, p) }
}

// WithConnectivity sets the source of online/offline changes (default: a
// Manual source that is always online).
func WithConnectivity(conn Connectivity) Option {
	return func(c *config) error {
		if conn == nil {
			return errors.New("nil connectivity source")
		}
		c.conn = conn
		return nil
	}
}

// WithClock sets the clock (default: the system clock).
func WithClock(clock Clock) Option {
	return func(c *config) error {
		if clock == nil {
			return errors.New("nil clock")
		}
		c.clock = clock
		return nil
	}
}

// WithBurst sets the reconnect burst limit (default DefaultBurst()).
func WithBurst(b Burst) Option {
	return func(c *config) error {
		if err := b.validate(); err != nil {
			return err
		}
		c.burst = b
		return nil
	}
}

// WithWakeDetection sets how often the wall clock is compared with the
// monotonic clock, and how large a difference counts as a jump: a wake from
// sleep (the wall clock ahead: every pending message is rescheduled) or the
// wall clock stepped backwards (deadlines and stall thresholds keep their
// remaining time). Defaults: every second, 10 s. A zero interval turns
// detection off.
func WithWakeDetection(every, jump time.Duration) Option {
	return func(c *config) error {
		if every < 0 || jump < 0 || (every > 0 && jump <= every) {
			return fmt.Errorf("wake detection every %v with threshold %v: both must be positive and the threshold above the interval", every, jump)
		}
		c.watchEvery, c.jumpAtLeast = every, jump
		return nil
	}
}

// WithSweepInterval sets how often deadlines, exhausted attempts and stall
// thresholds are checked (default one second).
func WithSweepInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("sweep interval %v must be positive", d)
		}
		c.sweepEvery = d
		return nil
	}
}

// WithMetrics registers the Guard's Prometheus metrics with reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) error {
		if reg == nil {
			return errors.New("nil metrics registerer")
		}
		c.registerer = reg
		return nil
	}
}

// WithLogger sets the logger; the Guard logs under "retry".
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithNodeOptions passes options to the mvds node (epoch, mode, message
// handler...). A Hook cannot be passed: the Guard is the node's Hook.
func WithNodeOptions(opts ...mvds.Option) Option {
	return func(c *config) error {
		c.nodeOptions = append(c.nodeOptions, opts...)
		return nil
	}
}
