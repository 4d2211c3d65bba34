package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

// Runtime is the runtime audit's configuration: what its checks hold
// messages to, and how much state they may keep.
type Runtime struct {
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
	// Severity overrides a check's severity by rule id.
	Severity map[string]rule.Severity
	Limits   Limits
}

// Limits bound the runtime audit's memory; docs/runtime-audit.md explains
// the bound they give.
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

// DefaultRuntime returns the runtime audit's defaults: a ten-minute
// horizon, thirty seconds to retry after a reconnect, five seconds of
// lateness, status-go's flows, and limits that keep the audit's state under
// about 125 MB whatever the input (measured per entry: an open message
// 1.3 KB at the longest evidence, a finished one 0.5 KB, a receipt 0.7 KB);
// a real log needs a small fraction of it.
func DefaultRuntime() Runtime {
	return Runtime{
		Horizon:         10 * time.Minute,
		ReconnectWithin: 30 * time.Second,
		Lateness:        5 * time.Second,
		Flows:           statusgo.DefaultFlows(),
		Severity:        map[string]rule.Severity{},
		Limits:          Limits{Open: 50_000, Finished: 50_000, Receipts: 50_000, Violations: 100, Reconnects: 256},
	}
}

// SeverityOf returns the severity of rule id under c.
func (c Runtime) SeverityOf(id string) rule.Severity { return severityOf(c.Severity, id) }

// problem is a setting the runtime checks cannot follow, by its key in the
// configuration file.
type problem struct{ key, msg string }

func (c Runtime) problems() []problem {
	var ps []problem
	add := func(key, format string, args ...any) { ps = append(ps, problem{key, fmt.Sprintf(format, args...)}) }
	if c.Horizon <= 0 {
		add("horizon", "%v is not positive", c.Horizon)
	}
	if c.ReconnectWithin <= 0 {
		add("reconnectWithin", "%v is not positive", c.ReconnectWithin)
	}
	if c.Lateness < 0 {
		add("lateness", "%v is negative", c.Lateness)
	}
	if c.Year < 0 || c.Year > 9999 {
		add("year", "%d is not a year (want 1 to 9999, or 0 for the current year)", c.Year)
	}
	if c.Flows == nil {
		add("flows", "no flow table")
	}
	for _, l := range []struct {
		key string
		v   int
	}{{"limits.open", c.Limits.Open}, {"limits.finished", c.Limits.Finished}, {"limits.receipts", c.Limits.Receipts},
		{"limits.violations", c.Limits.Violations}, {"limits.reconnects", c.Limits.Reconnects}} {
		if l.v < 1 {
			add(l.key, "%d is less than 1", l.v)
		}
	}
	for id := range c.Severity {
		if _, ok := rule.Runtime.Lookup(id); !ok {
			add("severity."+id, "%s", notARule(id, rule.Runtime))
		}
	}
	return ps
}

// Validate rejects a configuration the runtime checks cannot follow; each
// problem is named by its key in the configuration file.
func (c Runtime) Validate() error {
	var errs []error
	for _, p := range c.problems() {
		errs = append(errs, fmt.Errorf("%s: %s", p.key, p.msg))
	}
	return errors.Join(errs...)
}

// LoadRuntime reads the runtime audit's configuration file at path on top
// of the defaults. An empty path returns the defaults.
func LoadRuntime(path string) (Runtime, error) {
	if path == "" {
		return DefaultRuntime(), nil
	}
	data, err := readFile(path)
	if err != nil {
		return Runtime{}, err
	}
	return ParseRuntime(path, data)
}

// The runtime audit's keys, and where they differ from the static audit's.
var (
	runtimeTop = keys{
		allowed: []string{"version", "horizon", "reconnectWithin", "lateness", "year", "severity", "flows", "limits"},
		foreign: []string{"sendFunctions", "watchMethods", "ignore"}, other: "static",
	}
	runtimeFlows = keys{allowed: []string{"types", "contents"}, foreign: []string{"chatOf"}, other: "static"}
	limitKeys    = keys{allowed: []string{"open", "finished", "receipts", "violations", "reconnects"}}
)

// ParseRuntime reads a runtime audit configuration on top of the defaults;
// name is the file's name, for the errors. "version" may be left out.
func ParseRuntime(name string, data []byte) (Runtime, error) {
	f := newFile(name, data)
	c := DefaultRuntime()
	root := f.parse()
	if root != nil && f.version(root, false) {
		f.object(root, "", runtimeTop, func(key string, val *node, path string) {
			switch key {
			case "horizon":
				f.duration(val, path, &c.Horizon)
			case "reconnectWithin":
				f.duration(val, path, &c.ReconnectWithin)
			case "lateness":
				f.duration(val, path, &c.Lateness)
			case "year":
				if v, ok := f.integer(val, path); ok {
					c.Year = v
				}
			case "severity":
				f.severity(val, path, rule.Runtime, c.Severity)
			case "flows":
				f.flows(val, path, c.Flows, runtimeFlows)
			case "limits":
				f.object(val, path, limitKeys, func(key string, val *node, path string) {
					v, ok := f.integer(val, path)
					if !ok {
						return
					}
					switch key {
					case "open":
						c.Limits.Open = v
					case "finished":
						c.Limits.Finished = v
					case "receipts":
						c.Limits.Receipts = v
					case "violations":
						c.Limits.Violations = v
					case "reconnects":
						c.Limits.Reconnects = v
					}
				})
			}
		})
		if len(f.errs) == 0 {
			// What the file set, judged as a whole, at the key that set it.
			for _, p := range c.problems() {
				f.errorf(f.where[p.key], p.key, "%s", p.msg)
			}
		}
	}
	if err := f.err(); err != nil {
		return Runtime{}, err
	}
	return c, nil
}

// duration reads a string such as "90s" or "10m".
func (f *file) duration(n *node, path string, into *time.Duration) {
	if n.kind != kindString {
		f.errorf(n.off, path, "want a duration in a string such as \"90s\" or \"10m\", not %s", n.kind)
		return
	}
	d, err := time.ParseDuration(n.text)
	if err != nil {
		f.errorf(n.off, path, "%q is not a duration such as \"90s\" or \"10m\"", n.text)
		return
	}
	*into = d
}
