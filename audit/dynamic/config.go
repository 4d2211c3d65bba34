package dynamic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

// Config is what the checks hold messages to, and how much state they may
// keep.
type Config struct {
	// Horizon is how long after its first send a message may stay without a
	// delivered or failed outcome before it counts as silently dropped.
	Horizon time.Duration
	// ReconnectWithin is how soon after a reconnect a message that was
	// pending must be attempted again.
	ReconnectWithin time.Duration
	// Lateness is how far records may arrive out of time order (logs of
	// several processes interleaved, clocks apart): a deadline is judged
	// only once the input's clock is this far past it.
	Lateness time.Duration
	// Year is the year of the first geth timestamp (geth prints none);
	// 0 means the current year.
	Year int
	// Flows classifies message types (status-go's by default).
	Flows *statusgo.Flows
	// Severity overrides a check's severity by id.
	Severity map[string]rule.Severity
	Limits   Limits
}

// Limits bound the Recorder's memory; docs/runtime-audit.md explains the
// bound they give.
type Limits struct {
	// Open is how many messages without an outcome are kept. Past it the
	// oldest is dropped from the checks and counted in the report.
	Open int
	// Finished is how many ids of messages with an outcome are remembered,
	// so that a late record for one is not taken for a new message.
	Finished int
	// Receipts is how many (node, message) receipts are remembered to find
	// duplicates; they are also forgotten after Horizon.
	Receipts int
	// Violations is how many violations of each check a report lists in
	// full; all are counted.
	Violations int
	// Reconnects is how many reconnects per node may be awaiting their
	// first attempt at once.
	Reconnects int
}

// DefaultConfig returns the defaults: a ten-minute horizon, thirty seconds
// to retry after a reconnect, five seconds of lateness, status-go's flows.
func DefaultConfig() Config {
	return Config{
		Horizon:         10 * time.Minute,
		ReconnectWithin: 30 * time.Second,
		Lateness:        5 * time.Second,
		Flows:           statusgo.DefaultFlows(),
		Severity:        map[string]rule.Severity{},
		Limits:          DefaultLimits,
	}
}

// DefaultLimits keep the Recorder's state under about 125 MB whatever the
// input (measured per entry: an open message 1.3 KB at the longest
// evidence, a finished one 0.5 KB, a receipt 0.7 KB); a real log needs a
// small fraction of it.
var DefaultLimits = Limits{Open: 50_000, Finished: 50_000, Receipts: 50_000, Violations: 100, Reconnects: 256}

// Validate rejects a configuration the checks cannot follow.
func (c Config) Validate() error {
	switch {
	case c.Horizon <= 0:
		return fmt.Errorf("horizon %v must be positive", c.Horizon)
	case c.ReconnectWithin <= 0:
		return fmt.Errorf("reconnectWithin %v must be positive", c.ReconnectWithin)
	case c.Lateness < 0:
		return fmt.Errorf("lateness %v is negative", c.Lateness)
	case c.Year < 0 || c.Year > 9999:
		return fmt.Errorf("year %d is not a year", c.Year)
	case c.Flows == nil:
		return errors.New("no flow table")
	case c.Limits.Open < 1 || c.Limits.Finished < 1 || c.Limits.Receipts < 1 || c.Limits.Violations < 1 || c.Limits.Reconnects < 1:
		return fmt.Errorf("limits %+v must all be at least 1", c.Limits)
	}
	for id := range c.Severity {
		if _, ok := rule.Runtime.Lookup(id); !ok {
			return fmt.Errorf("severity for unknown check %q (want one of %s)", id, strings.Join(rule.Runtime.IDs(), ", "))
		}
	}
	return nil
}

// ConfigVersion is the configuration format this package reads.
const ConfigVersion = 1

// configFile is the JSON shape of a configuration file.
type configFile struct {
	Version         int               `json:"version"`
	Horizon         string            `json:"horizon"`
	ReconnectWithin string            `json:"reconnectWithin"`
	Lateness        string            `json:"lateness"`
	Year            int               `json:"year"`
	Severity        map[string]string `json:"severity"`
	Flows           struct {
		Types    map[string]string `json:"types"`
		Contents map[string]string `json:"contents"`
	} `json:"flows"`
	Limits struct {
		Open       int `json:"open"`
		Finished   int `json:"finished"`
		Receipts   int `json:"receipts"`
		Violations int `json:"violations"`
		Reconnects int `json:"reconnects"`
	} `json:"limits"`
}

// LoadConfig reads a configuration file on top of the defaults; an empty
// path returns the defaults.
func LoadConfig(path string) (Config, error) {
	if path == "" {
		return DefaultConfig(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig reads a configuration (JSON) on top of the defaults. Unknown
// keys are an error: a misspelt key would silently leave a default in force.
func ParseConfig(data []byte) (Config, error) {
	c := DefaultConfig()
	var f configFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return c, fmt.Errorf("%s", fieldError(err, ""))
	}
	if dec.More() {
		return c, errors.New("unexpected data after the configuration object")
	}
	if f.Version != 0 && f.Version != ConfigVersion {
		return c, fmt.Errorf("version %d: this audit reads version %d", f.Version, ConfigVersion)
	}
	for _, d := range []struct {
		name, v string
		dst     *time.Duration
	}{{"horizon", f.Horizon, &c.Horizon}, {"reconnectWithin", f.ReconnectWithin, &c.ReconnectWithin}, {"lateness", f.Lateness, &c.Lateness}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil {
			return c, fmt.Errorf("%s: %q is not a duration such as \"90s\" or \"10m\"", d.name, d.v)
		}
		*d.dst = v
	}
	c.Year = f.Year
	for id, s := range f.Severity {
		sev, err := rule.ParseSeverity(s)
		if err != nil {
			return c, fmt.Errorf("severity of %s: %w", id, err)
		}
		c.Severity[id] = sev
	}
	for name, flow := range f.Flows.Types {
		t, err := statusgo.ParseMessageType(name)
		if err != nil {
			return c, fmt.Errorf("flows.types: %w", err)
		}
		if flow == "by_chat" {
			c.Flows.Types[t] = statusgo.FlowRule{ByChat: true}
			continue
		}
		fl, err := mvdsguard.ParseFlow(flow)
		if err != nil {
			return c, fmt.Errorf("flows.types.%s: %w (or by_chat)", name, err)
		}
		c.Flows.Types[t] = statusgo.FlowRule{Flow: fl}
	}
	for name, flow := range f.Flows.Contents {
		ct, err := statusgo.ParseContentType(name)
		if err != nil {
			return c, fmt.Errorf("flows.contents: %w", err)
		}
		fl, err := mvdsguard.ParseFlow(flow)
		if err != nil {
			return c, fmt.Errorf("flows.contents.%s: %w", name, err)
		}
		c.Flows.Contents[ct] = fl
	}
	for _, l := range []struct {
		v   int
		dst *int
	}{{f.Limits.Open, &c.Limits.Open}, {f.Limits.Finished, &c.Limits.Finished}, {f.Limits.Receipts, &c.Limits.Receipts},
		{f.Limits.Violations, &c.Limits.Violations}, {f.Limits.Reconnects, &c.Limits.Reconnects}} {
		if l.v != 0 {
			*l.dst = l.v
		}
	}
	return c, c.Validate()
}
