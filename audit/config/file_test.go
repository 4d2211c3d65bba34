package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/rule"
)

// Every problem of a file is reported at once, in file order, each with
// its own position.
func TestEveryProblemOfAFileIsListedInFileOrder(t *testing.T) {
	_, err := config.ParseStatic("audit.json", []byte(`{
  "version": 1,
  "severity": {"MA1001": "loud"},
  "flows": {"types": {"CHAT": "one_to_one", "CHAT_MESSAGE": "chat"}}
}`))
	if err == nil {
		t.Fatal("a file with three problems was accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`audit.json:3:26: severity.MA1001: unknown severity "loud"`,
		`audit.json:4:23: flows.types.CHAT: unknown message type "CHAT"`,
		`audit.json:4:61: flows.types.CHAT_MESSAGE: unknown flow "chat"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems:\n%v", len(lines), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("problem %d is %q; want it to start with %q", i+1, lines[i], want[i])
		}
	}
	var first *config.Error
	if !errors.As(err, &first) || first.File != "audit.json" || first.Line != 3 || first.Key != "severity.MA1001" {
		t.Errorf("the first problem as a config.Error: %+v", first)
	}
}

func TestAKeyGivenTwiceIsAProblem(t *testing.T) {
	_, err := config.ParseRuntime("runtime.json", []byte("{\"horizon\": \"1m\",\n \"horizon\": \"2m\"}"))
	if err == nil || !strings.Contains(err.Error(), "runtime.json:2:2: horizon: given twice (first on line 1)") {
		t.Fatalf("%v; want the second horizon named", err)
	}
}

func TestAFileThatIsNotJSONSaysWhere(t *testing.T) {
	cases := map[string]string{
		"":                               `audit.json:1:1: the file is empty`,
		"{\"version\": 1,\n\"flows\": }": `audit.json:2:10: invalid JSON: invalid character '}'`,
		`{"version": 1`:                  `audit.json:1:14: invalid JSON: the file ends before the configuration object is complete`,
		strings.Repeat("[", 100):         `nested more than 16 levels deep`,
	}
	for in, want := range cases {
		if _, err := config.ParseStatic("audit.json", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.20q: %v; want %q", in, err, want)
		}
	}
}

// FuzzParse checks that no input makes either audit's parser panic, that
// every error names the file, and that whatever they accept is usable.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version": 1}`))
	f.Add([]byte(`{"version": 1, "flows": {"types": {"CHAT_MESSAGE": "by_chat"}}, "severity": {"MA1001": "off"}}`))
	f.Add([]byte(`{"version": 1, "sendFunctions": {"add": [{"function": "a/b.C.D", "as": "dispatchMessage"}]}}`))
	f.Add([]byte(`{"version":1,"flows":{"chatOf":{"join_request":"community"}}}`))
	f.Add([]byte(`{"horizon": "1h", "limits": {"open": 1}, "severity": {"MA2001": "warning"}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		static, err := config.ParseStatic("fuzz.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json:") {
				t.Fatalf("error %q does not name the file", err)
			}
		} else {
			for _, r := range rule.Static.Rules() {
				_ = static.SeverityOf(r.ID)
			}
			if static.Flows == nil || static.SendFuncs == nil {
				t.Fatal("accepted static configuration has nil tables")
			}
		}
		runtime, err := config.ParseRuntime("fuzz.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if err := runtime.Validate(); err != nil {
			t.Fatalf("accepted runtime configuration does not validate: %v", err)
		}
	})
}

// The examples in docs/audit.md and docs/runtime-audit.md are files a user
// copies; each audit accepts its own.
func TestTheDocumentedExamplesAreAccepted(t *testing.T) {
	for doc, parse := range map[string]func(name string, data []byte) error{
		"audit.md":         func(name string, data []byte) error { _, err := config.ParseStatic(name, data); return err },
		"runtime-audit.md": func(name string, data []byte) error { _, err := config.ParseRuntime(name, data); return err },
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		_, section, ok := strings.Cut(string(data), "\n## Configuration\n")
		_, example, found := strings.Cut(section, "```json\n")
		example, _, closed := strings.Cut(example, "```")
		if !ok || !found || !closed {
			t.Fatalf("docs/%s has no JSON example under ## Configuration", doc)
		}
		if err := parse(doc, []byte(example)); err != nil {
			t.Errorf("the example in docs/%s is rejected: %v", doc, err)
		}
	}
}

func TestAFileWithManyProblemsSaysHowManyWereNotListed(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"version": 1, "ignore": [`)
	for i := range 25 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"Send"`)
	}
	b.WriteString("]}")
	_, err := config.ParseStatic("audit.json", []byte(b.String()))
	if err == nil || !strings.HasSuffix(err.Error(), "\naudit.json: 5 more problems not listed") {
		t.Fatalf("%v; want 20 problems listed and the other 5 counted", err)
	}
}
