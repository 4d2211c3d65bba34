package mvds

import (
	"errors"
	"fmt"
	"time"

	"github.com/status-im/mvds/node"
	"go.uber.org/zap"
)

// Option configures a Node.
type Option func(*config) error

type config struct {
	mode      Mode
	epoch     time.Duration
	nextEpoch node.CalculateNextEpoch
	intn      func(int) int
	hook      Hook
	handler   Handler
	logger    *zap.Logger
	stock     bool
	// set records which options were given, to reject combinations that
	// would make Stock() something other than status-go.
	set map[string]bool
}

func defaultConfig() config {
	return config{mode: Batch, epoch: StockEpoch, logger: zap.NewNop(), set: map[string]bool{}}
}

// Stock configures the node exactly as status-go does today: BATCH mode, a
// 300 ms epoch, status-go's backoff curve with its jitter, mvds's own SQLite
// sync state (which deletes a state after MaxSendCount transmissions without
// telling anyone), and transport errors logged and swallowed. No Hook can be
// attached. It is the "before" column of every comparison.
//
// Only WithEpoch (to simulate long outages with short epochs) and
// WithJitterSource (for reproducible runs) may be combined with it.
func Stock() Option {
	return func(c *config) error {
		c.stock = true
		c.set["stock"] = true
		return nil
	}
}

// WithMode selects mvds's synchronisation mode (default Batch, as status-go).
func WithMode(m Mode) Option {
	return func(c *config) error {
		if m != Batch && m != Interactive {
			return fmt.Errorf("unknown mode %d (want mvds.Batch or mvds.Interactive)", m)
		}
		c.mode = m
		c.set["mode"] = true
		return nil
	}
}

// WithEpoch sets how long mvds sleeps between epochs (default StockEpoch).
func WithEpoch(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("epoch duration %v must be positive", d)
		}
		c.epoch = d
		return nil
	}
}

// WithNextEpoch replaces the backoff curve mvds uses when the Hook does not
// set a state's next epoch itself (default: StockNextEpoch).
func WithNextEpoch(f node.CalculateNextEpoch) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("nil next-epoch function")
		}
		c.nextEpoch = f
		c.set["nextEpoch"] = true
		return nil
	}
}

// WithJitterSource sets the random source of the default curve's jitter, for
// reproducible runs: intn(n) must return a value in [0, n).
func WithJitterSource(intn func(n int) int) Option {
	return func(c *config) error {
		if intn == nil {
			return errors.New("nil jitter source")
		}
		c.intn = intn
		return nil
	}
}

// WithHook attaches the Hook that observes and steers the sync state
// (default NopHook: observe nothing, keep every state past the limit).
func WithHook(h Hook) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("nil hook")
		}
		c.hook = h
		c.set["hook"] = true
		return nil
	}
}

// WithHandler sets the function that receives messages from peers. Without
// one, received messages wait in the inbox for a node that has one.
func WithHandler(h Handler) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("nil handler")
		}
		c.handler = h
		return nil
	}
}

// WithLogger sets the logger; the node logs under the name "mvds".
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.logger = l
		return nil
	}
}

func (c *config) finish() error {
	if c.stock {
		for _, o := range []struct{ key, name string }{{"hook", "WithHook"}, {"mode", "WithMode"}, {"nextEpoch", "WithNextEpoch"}} {
			if c.set[o.key] {
				return fmt.Errorf("Stock() reproduces status-go and cannot be combined with %s", o.name)
			}
		}
	}
	if c.nextEpoch == nil {
		c.nextEpoch = StockNextEpoch(c.intn)
	}
	if c.hook == nil {
		c.hook = NopHook{}
	}
	return nil
}
