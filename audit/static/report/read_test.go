package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard/audit/static"
)

func TestAReportReadsBackWithItsSites(t *testing.T) {
	var buf bytes.Buffer
	run := &Run{Tool: "mvdsaudit", Version: "v1.2.3", Sites: []static.Site{{Position: "p/a.go:1:2", Function: "M.f", Flow: "one_to_one", MessageType: "CHAT_MESSAGE", Verdict: "mvds"}}}
	if err := JSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	s, err := ReadJSON(buf.Bytes(), "mvdsaudit", "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sites) != 1 || s.Sites[0].Position != "p/a.go:1:2" || s.Sites[0].Verdict != "mvds" {
		t.Fatalf("sites %+v", s.Sites)
	}
	if _, err := ReadJSON(buf.Bytes(), "mvdsaudit", "v1.2.4"); err == nil || !strings.Contains(err.Error(), "written by mvdsaudit v1.2.3") {
		t.Fatalf("another version: %v", err)
	}
}

func FuzzReadJSON(f *testing.F) {
	f.Add([]byte(`{"tool":"mvdsaudit","version":"v1","format":1,"sites":[{"pos":"a.go:1:1","verdict":"mvds"}]}`))
	f.Add([]byte(`{"tool":"mvdsaudit","version":"v1","format":2}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"sites": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadJSON(data, "mvdsaudit", "v1")
		if err == nil && (s.Tool != "mvdsaudit" || s.Format != Format || s.Version != "v1") {
			t.Fatalf("accepted %q", data)
		}
	})
}
