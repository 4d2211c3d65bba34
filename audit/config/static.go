package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

// Static is the static audit's configuration: which message types are
// critical and to which flow they belong, which functions behave like
// status-go's send functions, which register a message with the resend
// loop, which functions to leave alone, and how severe each rule is.
type Static struct {
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

// SendAlias makes a function outside status-go's MessageSender behave like one
// of its send functions, for code bases that wrap the sender behind their own
// type or interface.
type SendAlias struct {
	// Function is "import/path.Func" or "import/path.Type.Method".
	Function string
	// As is the send function it behaves like.
	As statusgo.SendFunc
}

// DefaultStatic returns the static audit's configuration for status-go as it
// is.
func DefaultStatic() *Static {
	sends := make(map[statusgo.SendFunc]bool)
	for _, f := range statusgo.SendFuncs() {
		sends[f] = true
	}
	return &Static{
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

// SeverityOf returns the severity of rule id under c.
func (c *Static) SeverityOf(id string) rule.Severity { return severityOf(c.Severity, id) }

// Ignored reports whether the function with the given qualified name is in
// the ignore list.
func (c *Static) Ignored(qualified string) bool { return slices.Contains(c.Ignore, qualified) }

// LoadStatic reads the static audit's configuration file at path on top of
// the defaults. An empty path returns the defaults.
func LoadStatic(path string) (*Static, error) {
	if path == "" {
		return DefaultStatic(), nil
	}
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return ParseStatic(path, data)
}

// The static audit's keys, and where they differ from the runtime audit's.
var (
	staticTop = keys{
		allowed: []string{"version", "flows", "sendFunctions", "watchMethods", "ignore", "severity"},
		foreign: runtimeTop.allowed, other: "runtime",
	}
	staticFlows = keys{allowed: []string{"types", "contents", "chatOf"}}
	sendKeys    = keys{allowed: []string{"add", "remove"}}
	aliasKeys   = keys{allowed: []string{"function", "as"}}
)

// ParseStatic reads a static audit configuration on top of the defaults;
// name is the file's name, for the errors. "version" is required.
func ParseStatic(name string, data []byte) (*Static, error) {
	f := newFile(name, data)
	cfg := DefaultStatic()
	if root := f.parse(); root != nil && f.version(root, true) {
		f.object(root, "", staticTop, func(key string, val *node, path string) {
			switch key {
			case "flows":
				f.flows(val, path, cfg.Flows, staticFlows)
			case "severity":
				f.severity(val, path, rule.Static, cfg.Severity)
			case "sendFunctions":
				f.object(val, path, sendKeys, func(key string, val *node, path string) {
					if key == "add" {
						f.items(val, path, func(item *node, path string) { f.alias(item, path, cfg) })
						return
					}
					f.strs(val, path, func(name string, off int64, path string) {
						sf, err := statusgo.ParseSendFunc(name)
						if err != nil {
							f.errorf(off, path, "%v", err)
							return
						}
						delete(cfg.SendFuncs, sf)
					})
				})
			case "watchMethods":
				cfg.WatchMethods = []string{}
				f.strs(val, path, func(name string, off int64, path string) {
					if !isIdent(name) {
						f.errorf(off, path, "%q is not a method name", name)
						return
					}
					cfg.WatchMethods = append(cfg.WatchMethods, name)
				})
			case "ignore":
				f.strs(val, path, func(name string, off int64, path string) {
					if err := checkFuncName(name); err != nil {
						f.errorf(off, path, "%v", err)
						return
					}
					cfg.Ignore = append(cfg.Ignore, name)
				})
			}
		})
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// alias reads one {"function": ..., "as": ...} of sendFunctions.add.
func (f *file) alias(n *node, path string, cfg *Static) {
	var a SendAlias
	ok := true
	f.object(n, path, aliasKeys, func(key string, val *node, path string) {
		s, isStr := f.str(val, path)
		if !isStr {
			ok = false
			return
		}
		if key == "function" {
			if err := checkFuncName(s); err != nil {
				f.errorf(val.off, path, "%v", err)
				ok = false
			}
			a.Function = s
			return
		}
		sf, err := statusgo.ParseSendFunc(s)
		if err != nil {
			f.errorf(val.off, path, "%v", err)
			ok = false
		}
		a.As = sf
	})
	switch {
	case !ok || n.kind != kindObject:
	case a.Function == "":
		f.errorf(n.off, path, "no \"function\": name the function that behaves like a send function")
	case a.As == 0:
		f.errorf(n.off, path, "no \"as\": name the send function %s behaves like", a.Function)
	default:
		cfg.Aliases = append(cfg.Aliases, a)
	}
}

// checkFuncName accepts "import/path.Func" and "import/path.Type.Method".
func checkFuncName(s string) error {
	slash := strings.LastIndexByte(s, '/')
	parts := strings.Split(s[slash+1:], ".")
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
