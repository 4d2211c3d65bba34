package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

func TestAnEmptyPathGivesTheStatusGoDefaults(t *testing.T) {
	cfg, err := config.LoadStatic("")
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
		t.Error("default severities differ from the rule catalogue")
	}
}

func TestAStaticFileChangesFlowsSendFunctionsAndSeverities(t *testing.T) {
	cfg, err := config.ParseStatic("audit.json", []byte(`{
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
	if len(cfg.Aliases) != 1 || cfg.Aliases[0].As != statusgo.SendPrivate || cfg.Aliases[0].Function != "example.com/relay.Client.Send" {
		t.Errorf("aliases = %+v", cfg.Aliases)
	}
	if len(cfg.WatchMethods) != 2 || !cfg.Ignored("example.com/app.Resender.loop") {
		t.Errorf("watch methods %v / ignore %v not applied", cfg.WatchMethods, cfg.Ignore)
	}
	if cfg.SeverityOf(rule.NotMVDS) != rule.SeverityWarning || cfg.SeverityOf(rule.Conditional) != rule.SeverityOff {
		t.Error("severity overrides not applied")
	}
	if flow, _ := config.DefaultStatic().Flows.Classify(statusgo.ContactUpdate, nil, 0); flow != mvdsguard.ContactRequest {
		t.Error("a configuration changed the default flow table")
	}
}

func TestBadStaticFilesAreNamedWhereTheyAreWrong(t *testing.T) {
	cases := []struct {
		name, input string
		want        []string
	}{
		{"unknown top-level key", "{\"version\": 1,\n  \"sendFunction\": {}}", []string{`audit.json:2:3: `, `unknown key "sendFunction" at the top level`, `did you mean "sendFunctions"`}},
		{"unknown nested key", `{"version": 1, "flows": {"type": {}}}`, []string{`audit.json:1:26: unknown key "type" in flows`, `did you mean "types"`}},
		{"unknown key in a list entry", `{"version": 1, "sendFunctions": {"add": [{"func": "a.B", "as": "SendPrivate"}]}}`, []string{`unknown key "func" in sendFunctions.add[0]`}},
		{"a runtime key", `{"version": 1, "horizon": "1h"}`, []string{`key "horizon" at the top level belongs to the runtime audit's configuration`}},
		{"missing version", `{}`, []string{`audit.json:1:1: version: missing; add "version": 1`}},
		{"another version", `{"version": 2, "whatever": true}`, []string{`audit.json:1:13: version: this mvdsaudit reads version 1, not 2`}},
		{"wrong type", `{"version": "1"}`, []string{`version: want a number, not a string`}},
		{"unknown message type", `{"version": 1, "flows": {"types": {"CHAT": "one_to_one"}}}`, []string{`flows.types.CHAT: unknown message type "CHAT"`}},
		{"unknown flow", `{"version": 1, "flows": {"types": {"CHAT_MESSAGE": "chat"}}}`, []string{`flows.types.CHAT_MESSAGE: unknown flow "chat"`, `or by_chat`}},
		{"unknown chat kind", `{"version": 1, "flows": {"chatOf": {"join_request": "guild"}}}`, []string{`flows.chatOf.join_request: unknown chat kind "guild"`}},
		{"unknown rule", `{"version": 1, "severity": {"SA1000": "error"}}`, []string{`severity.SA1000: unknown rule "SA1000"`, `MA1001`}},
		{"a runtime rule", `{"version": 1, "severity": {"MA2001": "off"}}`, []string{`MA2001 (silent-drop) is a rule of the runtime audit, not of the static audit`}},
		{"unknown severity", `{"version": 1, "severity": {"MA1001": "fatal"}}`, []string{`severity.MA1001: unknown severity "fatal"`}},
		{"unknown send function", `{"version": 1, "sendFunctions": {"remove": ["Send"]}}`, []string{`sendFunctions.remove[0]: unknown send function "Send"`}},
		{"bad alias name", `{"version": 1, "sendFunctions": {"add": [{"function": "Send", "as": "SendPrivate"}]}}`, []string{`sendFunctions.add[0].function: "Send" is not a function name`}},
		{"alias without as", `{"version": 1, "sendFunctions": {"add": [{"function": "a/b.C"}]}}`, []string{`sendFunctions.add[0]: no "as"`}},
		{"bad watch method", `{"version": 1, "watchMethods": ["Save Raw"]}`, []string{`watchMethods[0]: "Save Raw" is not a method name`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseStatic("audit.json", []byte(tc.input))
			if err == nil {
				t.Fatalf("ParseStatic(%s) succeeded; want an error", tc.input)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadStaticNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.json")
	if err := os.WriteFile(path, []byte(`{"version": 2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.LoadStatic(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":1:13: ") {
		t.Fatalf("LoadStatic error = %v; want it to start with %s:1:13", err, path)
	}
	_, err = config.LoadStatic(filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("LoadStatic of a missing file: error = %v", err)
	}
}
