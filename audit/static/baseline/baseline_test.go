package baseline_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard/audit/static/baseline"
)

func finding(rule, file, fn, msg string) baseline.Finding {
	return baseline.Finding{Rule: rule, File: file, Function: fn, Message: msg}
}

func TestOnlyNewFindingsPassTheBaseline(t *testing.T) {
	old := []baseline.Finding{
		finding("MA1002", "protocol/group.go", "Messenger.CreateGroupChat", "sent once"),
		finding("MA1006", "protocol/c.go", "Messenger.Cancel", "Sender left at c.go:32:10"),
	}
	var buf bytes.Buffer
	if err := baseline.New(old).Write(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := baseline.Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("re-reading a written baseline: %v", err)
	}
	now := []baseline.Finding{
		// The same problem after an edit moved it: still known.
		finding("MA1006", "protocol/c.go", "Messenger.Cancel", "Sender left at c.go:40:10"),
		finding("MA1002", "protocol/group.go", "Messenger.CreateGroupChat", "sent once"),
		// A second copy of a known problem is new.
		finding("MA1002", "protocol/group.go", "Messenger.CreateGroupChat", "sent once"),
		finding("MA1003", "protocol/new.go", "Messenger.New", "rejected"),
	}
	fresh, known, stale := b.Filter(now)
	if len(known) != 2 || len(fresh) != 2 || fresh[1] != 3 || len(stale) != 0 {
		t.Fatalf("Filter = fresh %v known %v stale %v", fresh, known, stale)
	}
	_, _, stale = b.Filter(now[:1])
	if len(stale) != 1 || stale[0].Rule != "MA1002" {
		t.Fatalf("stale = %v; want the fixed MA1002 entry", stale)
	}
}

func TestIdenticalFindingsAreCounted(t *testing.T) {
	f := finding("MA1002", "a.go", "F", "m")
	b := baseline.New([]baseline.Finding{f, f})
	if len(b.Entries) != 1 || b.Entries[0].Count != 2 {
		t.Fatalf("entries = %+v", b.Entries)
	}
	fresh, known, _ := b.Filter([]baseline.Finding{f, f, f})
	if len(known) != 2 || len(fresh) != 1 {
		t.Fatalf("fresh %v known %v", fresh, known)
	}
}

func TestBadBaselinesAreNamed(t *testing.T) {
	cases := map[string]string{
		``:                           "empty file",
		`{"version": 2}`:             "version is 2",
		`{"version": 1, "extra": 1}`: `unknown field "extra"`,
		`{"version": 1, "findings": [{"rule": "XX1", "file": "a", "message": "m"}]}`:                 `unknown rule "XX1"`,
		`{"version": 1, "findings": [{"rule": "MA1001", "message": "m"}]}`:                           "file and message are required",
		`{"version": 1, "findings": [{"rule": "MA1001", "file": "a", "message": "m", "count": -1}]}`: "negative",
		`{"version": 1}{}`: "unexpected data",
		`{"version": `:     "invalid baseline JSON",
	}
	for in, want := range cases {
		if _, err := baseline.Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v; want %q", in, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "b.json")
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := baseline.Read(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Read error = %v; want it to name the file", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version": 1, "findings": [{"rule": "MA1001", "file": "a.go", "function": "F", "message": "m", "count": 2}]}`))
	f.Add([]byte(`{"version": 1, "findings": []}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := baseline.Parse(data)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := b.Write(&buf); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if _, err := baseline.Parse(buf.Bytes()); err != nil {
			t.Fatalf("a baseline that parsed does not survive a write and read: %v\n%s", err, buf.Bytes())
		}
		_, _, _ = b.Filter([]baseline.Finding{{Rule: "MA1001", File: "a.go", Function: "F", Message: "m"}})
	})
}
