package qanode

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/retry"
)

// Config describes one QA node.
type Config struct {
	Name string // for logs and /v1/health
	// Dir holds the node's SQLite file (node.db) and its secp256k1 key
	// (node.key, created on first start): the same Dir is the same node
	// after a restart.
	Dir string
	// Listen is the Waku TCP address (default 127.0.0.1:0).
	Listen string
	// API is the REST address (default 127.0.0.1:0); "-" runs no server.
	API string
	// Token, when set, is required as "Authorization: Bearer <token>".
	Token string
	// Light makes the node a light client of the service node at this
	// multiaddr; Service makes a relay node serve light clients.
	Light   string
	Service bool
	// Stock runs status-go's configuration (mvds.NewStockNode, no Guard).
	Stock bool
	// Epoch is mvds's epoch (default 300 ms, status-go's).
	Epoch time.Duration
	// Policies replace the Guard's default policy of some flows.
	Policies []PolicyOverride
	// Peers are dialled at start and kept connected.
	Peers []string
	// MaxConnectionsPerIP: every node of a QA run on one machine shares
	// 127.0.0.1 (default 1000; go-waku's own default is 5).
	MaxConnectionsPerIP int
	Logger              *zap.Logger
}

// Check says what is wrong with the configuration, as Start would, without
// starting anything: a command can report a usage error before it begins.
func (c Config) Check() error {
	return c.setDefaults()
}

func (c *Config) setDefaults() error {
	if c.Dir == "" {
		return errors.New("qa node: no data directory")
	}
	if c.Name == "" {
		c.Name = "node"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.API == "" {
		c.API = "127.0.0.1:0"
	}
	if c.Epoch == 0 {
		c.Epoch = mvds.StockEpoch
	}
	if c.Epoch < time.Millisecond || c.Epoch > 10*time.Second {
		return fmt.Errorf("qa node: epoch %v must be between 1ms and 10s", c.Epoch)
	}
	if c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = 1000
	}
	if c.Light != "" && c.Service {
		return errors.New("qa node: a light client cannot also be a service node")
	}
	if c.Stock && len(c.Policies) > 0 {
		return errors.New("qa node: a stock node follows status-go's curve; policies apply to guarded nodes only")
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// PolicyOverride changes some fields of the default policy of one flow (and
// kind, or both kinds). Its text form, used on the command line and in
// scenarios, is
//
//	flow[/kind]:field=value,...
//
// with fields initial, max, multiplier, attempts, deadline, stall; for
// example "join_request:stall=10s,max=10s".
type PolicyOverride struct {
	Flow  mvdsguard.Flow
	Kinds []retry.Kind
	Set   map[string]string
}

var policyFields = []string{"initial", "max", "multiplier", "attempts", "deadline", "stall"}

// ParsePolicyOverride reads the text form.
func ParsePolicyOverride(s string) (PolicyOverride, error) {
	head, body, ok := strings.Cut(s, ":")
	if !ok || body == "" {
		return PolicyOverride{}, fmt.Errorf("policy %q: want flow[/kind]:field=value,... (fields: %s)", s, strings.Join(policyFields, ", "))
	}
	flowName, kindName, hasKind := strings.Cut(head, "/")
	f, err := mvdsguard.ParseFlow(flowName)
	if err != nil {
		return PolicyOverride{}, fmt.Errorf("policy %q: %w", s, err)
	}
	o := PolicyOverride{Flow: f, Kinds: []retry.Kind{retry.Content, retry.Control}, Set: map[string]string{}}
	if hasKind {
		k, err := ParseKind(kindName)
		if err != nil {
			return PolicyOverride{}, fmt.Errorf("policy %q: %w", s, err)
		}
		o.Kinds = []retry.Kind{k}
	}
	for _, kv := range strings.Split(body, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return PolicyOverride{}, fmt.Errorf("policy %q: %q is not field=value", s, kv)
		}
		o.Set[k] = v
	}
	if _, err := o.apply(retry.IndefinitePolicy()); err != nil {
		return PolicyOverride{}, fmt.Errorf("policy %q: %w", s, err)
	}
	return o, nil
}

// String returns the text form.
func (o PolicyOverride) String() string {
	head := o.Flow.String()
	if len(o.Kinds) == 1 {
		head += "/" + o.Kinds[0].String()
	}
	keys := make([]string, 0, len(o.Set))
	for k := range o.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + o.Set[k]
	}
	return head + ":" + strings.Join(parts, ",")
}

// apply returns p with the override's fields set.
func (o PolicyOverride) apply(p retry.Policy) (retry.Policy, error) {
	for k, v := range o.Set {
		var err error
		switch k {
		case "initial":
			p.Initial, err = time.ParseDuration(v)
		case "max":
			p.Max, err = time.ParseDuration(v)
		case "deadline":
			p.Deadline, err = time.ParseDuration(v)
		case "stall":
			p.StallAfter, err = time.ParseDuration(v)
		case "multiplier":
			p.Multiplier, err = strconv.ParseFloat(v, 64)
		case "attempts":
			p.MaxAttempts, err = strconv.Atoi(v)
		default:
			return p, fmt.Errorf("unknown field %q (fields: %s)", k, strings.Join(policyFields, ", "))
		}
		if err != nil {
			return p, fmt.Errorf("%s=%s: %w", k, v, err)
		}
	}
	return p, p.Validate()
}

// options turns the overrides into Guard options.
func policyOptions(overrides []PolicyOverride) ([]retry.Option, error) {
	defaults := retry.DefaultPolicies()
	var opts []retry.Option
	for _, o := range overrides {
		for _, k := range o.Kinds {
			base, _ := defaults.Policy(o.Flow, k)
			p, err := o.apply(base)
			if err != nil {
				return nil, fmt.Errorf("policy %s: %w", o, err)
			}
			opts = append(opts, retry.WithPolicy(o.Flow, k, p))
		}
	}
	return opts, nil
}

// ParseKind reads "content" or "control" ("" is content).
func ParseKind(s string) (retry.Kind, error) {
	switch s {
	case "", "content":
		return retry.Content, nil
	case "control":
		return retry.Control, nil
	}
	return 0, fmt.Errorf("unknown kind %q (want content or control)", s)
}
