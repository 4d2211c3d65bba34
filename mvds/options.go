package mvds

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/status-im/mvds/node"
	"go.uber.org/zap"
)

// Option configures a Node or a StockNode. Each constructor names the
// options it accepts and refuses the others with an error naming them.
type Option func(*config) error

type config struct {
	mode      Mode
	epoch     time.Duration
	nextEpoch node.CalculateNextEpoch
	intn      func(int) int
	hook      Hook
	handler   Handler
	logger    *zap.Logger
	// accepts lists the options the constructor being configured takes,
	// with why it takes no others; nil accepts every option.
	accepts *optionSet
}

// optionSet is the options one constructor accepts.
type optionSet struct {
	names []string
	// refusal says why the others make no sense for it.
	refusal string
}

func (s *optionSet) allows(name string) error {
	if s == nil {
		return nil
	}
	for _, n := range s.names {
		if n == name {
			return nil
		}
	}
	return fmt.Errorf("%s does not apply: %s (accepted: %s)", name, s.refusal, strings.Join(s.names, ", "))
}

func newConfig(accepts *optionSet) config {
	return config{mode: Batch, epoch: StockEpoch, logger: zap.NewNop(), accepts: accepts}
}

// apply runs opts in order, naming a nil option by its position.
func (c *config) apply(opts []Option) error {
	for i, o := range opts {
		if o == nil {
			return fmt.Errorf("option %d is nil", i)
		}
		if err := o(c); err != nil {
			return err
		}
	}
	return nil
}

// option gives set the name the constructors know it by.
func option(name string, set func(*config) error) Option {
	return func(c *config) error {
		if err := c.accepts.allows(name); err != nil {
			return err
		}
		return set(c)
	}
}

// WithMode selects mvds's synchronisation mode (default Batch, as status-go).
func WithMode(m Mode) Option {
	return option("WithMode", func(c *config) error {
		if m != Batch && m != Interactive {
			return fmt.Errorf("unknown mode %d (want mvds.Batch or mvds.Interactive)", m)
		}
		c.mode = m
		return nil
	})
}

// WithEpoch sets how long mvds sleeps between epochs (default StockEpoch).
func WithEpoch(d time.Duration) Option {
	return option("WithEpoch", func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("epoch duration %v must be positive", d)
		}
		c.epoch = d
		return nil
	})
}

// withNextEpoch is knobs.NextEpoch: tests make mvds retransmit every few
// epochs with it. An application steers retransmission through its Hook
// (Decision.NextEpoch) instead.
func withNextEpoch(f node.CalculateNextEpoch) Option {
	return option("knobs.NextEpoch", func(c *config) error {
		if f == nil {
			return errors.New("nil next-epoch function")
		}
		c.nextEpoch = f
		return nil
	})
}

// withJitterSource is knobs.JitterSource: the random source of status-go's
// jitter (in the curve and in NotifyPeerOnline), for reproducible runs.
// intn(n) must return a value in [0, n).
func withJitterSource(intn func(n int) int) Option {
	return option("knobs.JitterSource", func(c *config) error {
		if intn == nil {
			return errors.New("nil jitter source")
		}
		c.intn = intn
		return nil
	})
}

// WithHook attaches the Hook that observes and steers the sync state
// (default NopHook: observe nothing, keep every state past the limit).
func WithHook(h Hook) Option {
	return option("WithHook", func(c *config) error {
		if h == nil {
			return errors.New("nil hook")
		}
		c.hook = h
		return nil
	})
}

// WithHandler sets the function that receives messages from peers, each
// exactly once (see Handler). Without one the node keeps no inbox: an
// application that reads received messages elsewhere (status-go decodes
// them from the packets) pays nothing for it.
func WithHandler(h Handler) Option {
	return option("WithHandler", func(c *config) error {
		if h == nil {
			return errors.New("nil handler")
		}
		c.handler = h
		return nil
	})
}

// WithLogger sets the logger; the node logs under the name "mvds".
func WithLogger(l *zap.Logger) Option {
	return option("WithLogger", func(c *config) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.logger = l
		return nil
	})
}
