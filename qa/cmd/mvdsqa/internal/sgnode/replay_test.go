package sgnode

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// replay is a status-backend played back from a recording: it answers the
// calls in the recorded order, checking each is the one recorded (path and
// JSON-RPC method), and sends the recorded signals on /signals, each once
// the calls recorded before it were made. A recorded ws_close closes the
// WebSocket there; with noResume, /signals then refuses new connections.
type replay struct {
	t        *testing.T
	entries  []Entry
	srv      *httptest.Server
	noResume bool

	mu      sync.Mutex
	next    int // the next entry to play
	conn    *websocket.Conn
	closed  bool // a ws_close was played: waiting for a new connection
	changed *sync.Cond
	errs    []string
}

func newReplay(t *testing.T, entries []Entry) *replay {
	r := &replay{t: t, entries: entries}
	r.changed = sync.NewCond(&r.mu)
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.mu.Lock()
		if r.conn != nil {
			_ = r.conn.Close()
		}
		r.next = len(r.entries)
		r.changed.Broadcast()
		r.mu.Unlock()
		r.srv.Close()
		for _, e := range r.errs {
			t.Error(e)
		}
	})
	go r.playSignals()
	return r
}

func replayFile(t *testing.T, path string, noResume bool) *replay {
	t.Helper()
	es, err := ReadRecording(path)
	if err != nil {
		t.Fatal(err)
	}
	r := newReplay(t, es)
	r.noResume = noResume
	return r
}

func (r *replay) addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

func (r *replay) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *replay) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/signals" {
		r.accept(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	// Signals recorded before this call are sent first.
	for r.next < len(r.entries) && r.entries[r.next].Kind != EntryCall {
		r.changed.Wait()
	}
	if r.next >= len(r.entries) {
		r.fail("call %s after the end of the recording", req.URL.Path)
		http.Error(w, "end of recording", http.StatusInternalServerError)
		return
	}
	e := r.entries[r.next]
	if got, want := callName(req.URL.Path, body), callName(e.Path, e.Request); got != want {
		r.fail("call %d: got %s, the recording has %s", r.next, got, want)
		http.Error(w, "not the recorded call", http.StatusInternalServerError)
		return
	}
	r.next++
	r.changed.Broadcast()
	if e.Status == http.StatusNotFound {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	if e.Response != nil {
		_, _ = w.Write(e.Response)
	} else {
		_, _ = w.Write([]byte(e.Text))
	}
}

// callName is a call's path and, for CallRPC, its method.
func callName(path string, body []byte) string {
	if path != "/statusgo/CallRPC" {
		return path
	}
	var rpc struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal(body, &rpc)
	return path + " " + rpc.Method
}

func (r *replay) accept(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	refuse := r.closed && r.noResume
	r.mu.Unlock()
	if refuse {
		http.Error(w, "gone", http.StatusServiceUnavailable)
		return
	}
	up := websocket.Upgrader{}
	conn, err := up.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.conn, r.closed = conn, false
	// The connection the recording opens.
	if r.next < len(r.entries) && r.entries[r.next].Kind == EntryWSOpen {
		r.next++
	}
	r.changed.Broadcast()
	r.mu.Unlock()
	// Read until the client goes away, so a close is noticed.
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
}

// playSignals sends signal entries and plays ws_close entries as they
// become due.
func (r *replay) playSignals() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		for r.next < len(r.entries) {
			k := r.entries[r.next].Kind
			if (k == EntrySignal || k == EntryWSClose) && r.conn != nil && !r.closed {
				break
			}
			r.changed.Wait()
		}
		if r.next >= len(r.entries) {
			return
		}
		e := r.entries[r.next]
		r.next++
		if e.Kind == EntryWSClose {
			_ = r.conn.Close()
			r.conn, r.closed = nil, true
			r.changed.Broadcast()
			continue
		}
		msg := []byte(e.Signal)
		if msg == nil {
			msg = []byte(e.Text)
		}
		if err := r.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			r.fail("signal %d: %v", r.next-1, err)
		}
		r.changed.Broadcast()
	}
}

// done reports whether every entry was played.
func (r *replay) done() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next >= len(r.entries)
}

// recorded is the status-go commit the recordings in testdata come from.
const recorded = "testdata/c72f49132/"

// TestReplayExchange plays the story of exchange against the recording of
// a real status-backend run: login, send, signals, errors, and a signal
// stream that status-backend drops and the client resumes.
func TestReplayExchange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var replays []*replay
	start := func(name string) *Node {
		r := replayFile(t, recorded+name+".jsonl", false)
		replays = append(replays, r)
		n, err := Connect(ctx, name, r.addr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		n.Signals.SetResume(20, 10*time.Millisecond)
		t.Cleanup(n.Close)
		return n
	}
	exchange(t, ctx, start, func(*Node) {}) // the replay drops the stream itself
	for _, r := range replays {
		if !r.done() {
			t.Errorf("recording not played to its end: %d of %d entries", r.next, len(r.entries))
		}
	}
}
