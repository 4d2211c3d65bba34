package sgnode

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A signal stream that status-backend closes and does not accept again
// ends with an error naming the node, and a waiter learns it.
func TestSignalStreamClosedForGood(t *testing.T) {
	r := newReplay(t, []Entry{{Kind: EntryWSOpen}, {Kind: EntryWSClose}}, func(r *Replay) { r.NoResume = true })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Connect(ctx, "alice", r.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.Signals.SetResume(3, 10*time.Millisecond)
	_, err = n.Signals.Wait(ctx, 0, func(Signal) bool { return false })
	if !errors.Is(err, ErrStreamClosed) || !strings.Contains(err.Error(), "node alice: signal stream closed") ||
		!strings.Contains(err.Error(), "not resumed after") {
		t.Fatalf("got %v", err)
	}
}

// An account status-go refuses to create: its answer's error, naming the
// node and the call. The answer is status-go c72f49132's for the display
// name "bob" (too short).
func TestCreateAccountRefused(t *testing.T) {
	r := newReplay(t, []Entry{
		{Kind: EntryWSOpen},
		{Kind: EntryCall, Path: "/statusgo/InitializeApplication", Status: 200, Response: []byte(`{"accounts":null}`)},
		{Kind: EntryCall, Path: "/statusgo/CreateAccountAndLogin", Status: 200,
			Response: []byte(`{"error":"only letters, numbers, underscores and hyphens allowed: create-account: invalid display name"}`)},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Connect(ctx, "bob", r.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	p := LocalProfile(t.TempDir(), "bob")
	p.DisplayName = "bob"
	err = n.CreateAccount(ctx, p)
	var ce *CallError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "node bob: CreateAccountAndLogin: status-go error: only letters") {
		t.Fatalf("got %v", err)
	}
}

// A program that is not status-backend: one that exits at once, one that
// runs but never says it listens.
func TestStartNotStatusBackend(t *testing.T) {
	ctx := context.Background()
	_, err := StartProcess(ctx, "alice", "/bin/true", nil, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "node alice: /bin/true exited before it listened") {
		t.Errorf("/bin/true: %v", err)
	}
	script := filepath.Join(t.TempDir(), "quiet")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 60\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = StartProcess(ctx, "bob", script, nil, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "node bob:") || !strings.Contains(err.Error(), "is it status-backend?") {
		t.Errorf("quiet program: %v", err)
	}
	if time.Since(began) > 10*time.Second {
		t.Errorf("the quiet program was not killed at its timeout")
	}
	_, err = StartProcess(ctx, "carol", filepath.Join(t.TempDir(), "missing"), nil, time.Second)
	if err == nil || !strings.Contains(err.Error(), "node carol: start") {
		t.Errorf("missing binary: %v", err)
	}
}

// An address where something else answers HTTP: no /signals, no functions.
func TestAddressNotStatusBackend(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	ctx := context.Background()
	_, err := Connect(ctx, "alice", srv.URL, nil)
	if err == nil || !strings.Contains(err.Error(), "node alice: signals") || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("Connect: %v", err)
	}
	c := NewClient("alice", srv.URL, nil)
	if _, err := c.Call(ctx, "InitializeApplication", map[string]string{}); err == nil || !strings.Contains(err.Error(), "no such function") {
		t.Errorf("Call: %v", err)
	}
}

// A recording that is not one: the error names the file and line.
func TestReadRecordingErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"{\"kind\":\"call\",\"path\":\"/x\"}\nnot json\n", "rec:2:"},
		{"{\"kind\":\"call\"}\n", "rec:1: a call without a path"},
		{"{\"kind\":\"dance\"}\n", "rec:1: unknown kind \"dance\""},
		{"{\"kind\":\"signal\"}\n", "rec:1: a signal without content"},
	} {
		_, err := readEntries("rec", strings.NewReader(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}

// The recorded runs parse, and say where they come from.
func TestRecordingsParse(t *testing.T) {
	files, _ := filepath.Glob(recorded + "*.jsonl")
	if len(files) < 3 {
		t.Fatalf("recordings: %v", files)
	}
	for _, f := range files {
		es, err := ReadRecording(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 || es[0].Kind != EntryWSOpen {
			t.Errorf("%s: does not start by opening /signals", f)
		}
	}
}

func FuzzReadRecording(f *testing.F) {
	f.Add([]byte("{\"at\":1,\"kind\":\"signal\",\"signal\":{\"type\":\"node.login\",\"event\":{}}}\n"))
	f.Add([]byte("{\"kind\":\"call\",\"path\":\"/statusgo/CallRPC\",\"status\":501}\n\n{\"kind\":\"ws_close\",\"text\":\"eof\"}"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := readEntries("fuzz", strings.NewReader(string(b)))
		if err == nil {
			for _, e := range es {
				if e.Kind == EntryCall && e.Path == "" {
					t.Fatal("a call without path accepted")
				}
			}
		}
	})
}
