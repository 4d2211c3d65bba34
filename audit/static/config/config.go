// Package config reads the static audit's configuration file: which message
// types are critical and to which flow they belong, which functions behave
// like status-go's send functions, which register a message with the resend
// loop, which functions to leave alone, and how severe each rule is.
//
// A configuration only states differences from the built-in defaults, which
// describe status-go as it is (see audit/statusgo). The format is JSON, so
// that every CI system can generate or check it; unknown keys are an error
// that names the key and its line, because a misspelt key would otherwise
// silently leave a default in force.
//
// This package knows the rule ids and status-go's vocabulary; it must not know
// about go/analysis or how findings are reported.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

// Version is the only configuration format version this package reads.
const Version = 1

// SendAlias makes a function outside status-go's MessageSender behave like one
// of its send functions, for code bases that wrap the sender behind their own
// type or interface.
type SendAlias struct {
	// Function is "import/path.Func" or "import/path.Type.Method".
	Function string
	// As is the send function it behaves like.
	As statusgo.SendFunc
}

// Config is the audit's effective configuration: defaults plus a file.
type Config struct {
	// Flows classifies message types into flows.
	Flows *statusgo.Flows
	// SendFuncs are the status-go send functions the audit treats as sinks.
	SendFuncs map[statusgo.SendFunc]bool
	// Aliases are further functions treated as one of the send functions.
	Aliases []SendAlias
	// WatchMethods are method names that save a *RawMessage to raw_messages,
	// where the resend loop finds it. Functions that call them (such as
	// Messenger.AddRawMessageToWatch) are discovered, not listed.
	WatchMethods []string
	// Ignore lists functions ("import/path.Type.Method" or
	// "import/path.Func") whose own sends are not audited: status-go's resend
	// loop resends messages it loaded from the database, whose type no
	// source code shows.
	Ignore []string
	// Severity overrides rule severities by rule id.
	Severity map[string]rule.Severity
}

// Default returns the configuration for status-go as it is.
func Default() *Config {
	sends := make(map[statusgo.SendFunc]bool)
	for _, f := range statusgo.SendFuncs() {
		sends[f] = true
	}
	return &Config{
		Flows:        statusgo.DefaultFlows(),
		SendFuncs:    sends,
		WatchMethods: []string{"SaveRawMessage"},
		Ignore: []string{
			statusgo.ProtocolPath + ".Messenger.processMessageID",
			statusgo.ProtocolPath + ".Messenger.handleSendCommunityMessage",
			statusgo.ProtocolPath + ".Messenger.handleSendPrivateMessage",
			statusgo.ProtocolPath + ".Messenger.handleOtherResendMethods",
			statusgo.ProtocolPath + ".Messenger.reSendRawMessage",
		},
		Severity: map[string]rule.Severity{},
	}
}

// Load reads the configuration file at path on top of the defaults. An empty
// path returns the defaults.
func Load(path string) (*Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// file is the JSON shape of a configuration file.
type file struct {
	Version int `json:"version"`
	Flows   struct {
		Types    map[string]string `json:"types"`
		Contents map[string]string `json:"contents"`
		ChatOf   map[string]string `json:"chatOf"`
	} `json:"flows"`
	SendFunctions struct {
		Add []struct {
			Function string `json:"function"`
			As       string `json:"as"`
		} `json:"add"`
		Remove []string `json:"remove"`
	} `json:"sendFunctions"`
	WatchMethods []string          `json:"watchMethods"`
	Ignore       []string          `json:"ignore"`
	Severity     map[string]string `json:"severity"`
}

// schema lists the keys each object of the file may have; "*" marks a map
// whose keys are free (message type names, rule ids, ...).
var schema = map[string][]string{
	"":               {"version", "flows", "sendFunctions", "watchMethods", "ignore", "severity"},
	"flows":          {"types", "contents", "chatOf"},
	"flows.types":    {"*"},
	"flows.contents": {"*"},
	"flows.chatOf":   {"*"},
	"sendFunctions":  {"add", "remove"},
	"sendFunctions.add[]": {
		"function", "as",
	},
	"severity": {"*"},
}

// Parse reads a configuration from data on top of the defaults. Errors name
// the offending key or value and, where it helps, its line and column.
func Parse(data []byte) (*Config, error) {
	if err := checkKeys(data); err != nil {
		return nil, err
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, describeJSONError(data, err)
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the configuration object")
	}
	if f.Version != Version {
		return nil, fmt.Errorf("version is %d; this mvdsaudit reads version %d (add \"version\": %d)", f.Version, Version, Version)
	}
	cfg := Default()
	var errs []error
	for name, flowName := range f.Flows.Types {
		mt, err := statusgo.ParseMessageType(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("flows.types: %w", err))
			continue
		}
		if flowName == "by_chat" {
			cfg.Flows.Types[mt] = statusgo.FlowRule{ByChat: true}
			continue
		}
		flow, err := mvdsguard.ParseFlow(flowName)
		if err != nil {
			errs = append(errs, fmt.Errorf("flows.types[%s]: %w (or by_chat)", name, err))
			continue
		}
		if flow == mvdsguard.Other {
			delete(cfg.Flows.Types, mt)
			continue
		}
		cfg.Flows.Types[mt] = statusgo.FlowRule{Flow: flow}
	}
	for name, flowName := range f.Flows.Contents {
		ct, err := statusgo.ParseContentType(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("flows.contents: %w", err))
			continue
		}
		flow, err := mvdsguard.ParseFlow(flowName)
		if err != nil {
			errs = append(errs, fmt.Errorf("flows.contents[%s]: %w", name, err))
			continue
		}
		cfg.Flows.Contents[ct] = flow
	}
	for flowName, chatName := range f.Flows.ChatOf {
		flow, err := mvdsguard.ParseFlow(flowName)
		if err != nil {
			errs = append(errs, fmt.Errorf("flows.chatOf: %w", err))
			continue
		}
		if chatName == "" || chatName == "unknown" {
			delete(cfg.Flows.ChatOf, flow)
			continue
		}
		kind, err := statusgo.ParseChatKind(chatName)
		if err != nil {
			errs = append(errs, fmt.Errorf("flows.chatOf[%s]: %w", flowName, err))
			continue
		}
		cfg.Flows.ChatOf[flow] = kind
	}
	for i, add := range f.SendFunctions.Add {
		as, err := statusgo.ParseSendFunc(add.As)
		if err != nil {
			errs = append(errs, fmt.Errorf("sendFunctions.add[%d].as: %w", i, err))
			continue
		}
		if err := checkFuncName(add.Function); err != nil {
			errs = append(errs, fmt.Errorf("sendFunctions.add[%d].function: %w", i, err))
			continue
		}
		cfg.Aliases = append(cfg.Aliases, SendAlias{Function: add.Function, As: as})
	}
	for i, name := range f.SendFunctions.Remove {
		sf, err := statusgo.ParseSendFunc(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("sendFunctions.remove[%d]: %w", i, err))
			continue
		}
		delete(cfg.SendFuncs, sf)
	}
	if f.WatchMethods != nil {
		cfg.WatchMethods = nil
		for i, name := range f.WatchMethods {
			if !isIdent(name) {
				errs = append(errs, fmt.Errorf("watchMethods[%d]: %q is not a method name", i, name))
				continue
			}
			cfg.WatchMethods = append(cfg.WatchMethods, name)
		}
	}
	for i, name := range f.Ignore {
		if err := checkFuncName(name); err != nil {
			errs = append(errs, fmt.Errorf("ignore[%d]: %w", i, err))
			continue
		}
		cfg.Ignore = append(cfg.Ignore, name)
	}
	for id, sevName := range f.Severity {
		if _, ok := rule.Static.Lookup(id); !ok {
			errs = append(errs, fmt.Errorf("severity: unknown rule %q (want one of %s)", id, strings.Join(rule.Static.IDs(), ", ")))
			continue
		}
		sev, err := rule.ParseSeverity(sevName)
		if err != nil {
			errs = append(errs, fmt.Errorf("severity[%s]: %w", id, err))
			continue
		}
		cfg.Severity[id] = sev
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// checkFuncName accepts "import/path.Func" and "import/path.Type.Method".
func checkFuncName(s string) error {
	slash := strings.LastIndexByte(s, '/')
	rest := s[slash+1:]
	parts := strings.Split(rest, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("%q is not a function name (want import/path.Func or import/path.Type.Method)", s)
	}
	for _, p := range parts[1:] {
		if !isIdent(p) {
			return fmt.Errorf("%q is not a function name (want import/path.Func or import/path.Type.Method)", s)
		}
	}
	if parts[0] == "" {
		return fmt.Errorf("%q has no package path", s)
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
		case i > 0 && '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}

// SeverityOf returns the severity of rule id under cfg.
func (c *Config) SeverityOf(id string) rule.Severity {
	if s, ok := c.Severity[id]; ok {
		return s
	}
	if r, ok := rule.Static.Lookup(id); ok {
		return r.Severity
	}
	return rule.SeverityError
}

// Ignored reports whether the function with the given qualified name is in
// the ignore list.
func (c *Config) Ignored(qualified string) bool {
	for _, name := range c.Ignore {
		if name == qualified {
			return true
		}
	}
	return false
}
