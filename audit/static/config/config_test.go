package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/audit/static/config"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

func TestAnEmptyPathGivesTheStatusGoDefaults(t *testing.T) {
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if flow, _ := cfg.Flows.Classify(statusgo.AcceptContactRequest, nil, 0); flow != mvdsguard.ContactRequest {
		t.Errorf("ACCEPT_CONTACT_REQUEST is %v; want contact_request", flow)
	}
	if !cfg.SendFuncs[statusgo.DispatchMessage] || len(cfg.SendFuncs) != len(statusgo.SendFuncs()) {
		t.Errorf("default send functions = %v; want all of status-go's", cfg.SendFuncs)
	}
	if cfg.SeverityOf(rule.NotMVDS) != rule.SeverityError || cfg.SeverityOf(rule.Conditional) != rule.SeverityWarning {
		t.Error("default severities differ from the rule table")
	}
}

func TestAFileChangesFlowsSendFunctionsAndSeverities(t *testing.T) {
	cfg, err := config.Parse([]byte(`{
		"version": 1,
		"flows": {
			"types": {"COMMUNITY_REQUEST_TO_LEAVE": "join_request", "CONTACT_UPDATE": "other", "STATUS_UPDATE": "by_chat"},
			"contents": {"IDENTITY_VERIFICATION": "contact_request"},
			"chatOf": {"join_request": "community", "contact_request": "unknown"}
		},
		"sendFunctions": {
			"add": [{"function": "example.com/relay.Client.Send", "as": "SendPrivate"}],
			"remove": ["SendPubsubTopicKey"]
		},
		"watchMethods": ["SaveRawMessage", "Track"],
		"ignore": ["example.com/app.Resender.loop"],
		"severity": {"MA1001": "warning", "MA1004": "off"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if flow, _ := cfg.Flows.Classify(57, nil, 0); flow != mvdsguard.JoinRequest {
		t.Errorf("COMMUNITY_REQUEST_TO_LEAVE is %v; want join_request", flow)
	}
	if flow, _ := cfg.Flows.Classify(statusgo.ContactUpdate, nil, 0); flow != mvdsguard.Other {
		t.Errorf("CONTACT_UPDATE is %v; want other", flow)
	}
	if _, known := cfg.Flows.Classify(30, nil, 0); known {
		t.Error("STATUS_UPDATE should follow its chat")
	}
	if _, ok := cfg.Flows.ChatOf[mvdsguard.ContactRequest]; ok {
		t.Error(`chatOf "unknown" should remove the implied chat`)
	}
	if cfg.Flows.ChatOf[mvdsguard.JoinRequest] != statusgo.ChatCommunity {
		t.Error("chatOf join_request not applied")
	}
	if cfg.SendFuncs[statusgo.SendPubsubTopicKey] {
		t.Error("SendPubsubTopicKey still a send function after remove")
	}
	if len(cfg.Aliases) != 1 || cfg.Aliases[0].As != statusgo.SendPrivate {
		t.Errorf("aliases = %+v", cfg.Aliases)
	}
	if len(cfg.WatchMethods) != 2 || !cfg.Ignored("example.com/app.Resender.loop") {
		t.Errorf("watch methods %v / ignore %v not applied", cfg.WatchMethods, cfg.Ignore)
	}
	if cfg.SeverityOf(rule.NotMVDS) != rule.SeverityWarning || cfg.SeverityOf(rule.Conditional) != rule.SeverityOff {
		t.Error("severity overrides not applied")
	}
}

func TestBadInputIsNamed(t *testing.T) {
	cases := []struct {
		name, input string
		want        []string
	}{
		{"unknown top-level key", "{\"version\": 1,\n  \"sendFunction\": {}}", []string{`line 2:3`, `unknown key "sendFunction"`, `did you mean "sendFunctions"`}},
		{"unknown nested key", `{"version": 1, "flows": {"type": {}}}`, []string{`unknown key "type" in flows`, `did you mean "types"`}},
		{"unknown key in a list entry", `{"version": 1, "sendFunctions": {"add": [{"func": "a.B", "as": "SendPrivate"}]}}`, []string{`unknown key "func" in sendFunctions.add`}},
		{"missing version", `{}`, []string{`version is 0`}},
		{"syntax error", "{\"version\": 1,\n\"flows\": }", []string{`line 2:`, `invalid JSON`}},
		{"truncated", `{"version": 1`, []string{`ends before`}},
		{"wrong type", `{"version": "1"}`, []string{`version must be a number`}},
		{"not an object", `[1]`, []string{`must be a JSON object`}},
		{"unknown message type", `{"version": 1, "flows": {"types": {"CHAT": "one_to_one"}}}`, []string{`unknown message type "CHAT"`}},
		{"unknown flow", `{"version": 1, "flows": {"types": {"CHAT_MESSAGE": "chat"}}}`, []string{`flows.types[CHAT_MESSAGE]`, `unknown flow "chat"`}},
		{"unknown rule", `{"version": 1, "severity": {"SA1000": "error"}}`, []string{`unknown rule "SA1000"`, `MA1001`}},
		{"unknown severity", `{"version": 1, "severity": {"MA1001": "fatal"}}`, []string{`unknown severity "fatal"`}},
		{"unknown send function", `{"version": 1, "sendFunctions": {"remove": ["Send"]}}`, []string{`unknown send function "Send"`}},
		{"bad alias name", `{"version": 1, "sendFunctions": {"add": [{"function": "Send", "as": "SendPrivate"}]}}`, []string{`"Send" is not a function name`}},
		{"trailing data", `{"version": 1} {}`, []string{`after the configuration object`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.input))
			if err == nil {
				t.Fatalf("Parse(%s) succeeded; want an error", tc.input)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.json")
	if err := os.WriteFile(path, []byte(`{"version": 2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load error = %v; want it to name %s", err, path)
	}
	_, err = config.Load(filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("Load of a missing file: error = %v", err)
	}
}

// FuzzParse checks that no input makes Parse panic, and that whatever it
// accepts is a usable configuration.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version": 1}`))
	f.Add([]byte(`{"version": 1, "flows": {"types": {"CHAT_MESSAGE": "by_chat"}}, "severity": {"MA1001": "off"}}`))
	f.Add([]byte(`{"version": 1, "sendFunctions": {"add": [{"function": "a/b.C.D", "as": "dispatchMessage"}]}}`))
	f.Add([]byte(`{"version":1,"flows":{"chatOf":{"join_request":"community"}}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for _, r := range rule.All() {
			_ = cfg.SeverityOf(r.ID)
		}
		if cfg.Flows == nil || cfg.SendFuncs == nil {
			t.Fatal("accepted configuration has nil tables")
		}
	})
}
