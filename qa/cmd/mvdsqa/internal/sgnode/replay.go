package sgnode

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// Replay is a status-backend played back from a recording, for tests that
// must run without status-go. It answers calls in the recorded order,
// checking each is the call recorded (its path and, for CallRPC, its
// method); calls named in Polls — reads a client repeats as often as it
// likes — are answered from the recording whenever they come, without
// moving it on. It sends each recorded signal once the calls recorded
// before it were made. A recorded ws_close closes the WebSocket there;
// with NoResume, /signals then refuses new connections.
type Replay struct {
	Polls    map[string]bool // "wakuext_peers", "/statusgo/GetNodeConfig", …
	NoResume bool

	entries []Entry
	mu      sync.Mutex
	next    int // the next entry to play
	conn    *websocket.Conn
	closed  bool // a ws_close was played: waiting for a new connection
	stopped bool
	changed *sync.Cond
	errs    []string
}

// NewReplay plays entries; Start its signal player with Play.
func NewReplay(entries []Entry) *Replay {
	r := &Replay{entries: entries}
	r.changed = sync.NewCond(&r.mu)
	return r
}

// Errors are the calls that did not match the recording.
func (r *Replay) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

// Done reports whether every entry was played, and how many were.
func (r *Replay) Done() (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next >= len(r.entries), r.next
}

// Stop ends the replay: the WebSocket closes, waiting calls return.
func (r *Replay) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.conn != nil {
		_ = r.conn.Close()
	}
	r.changed.Broadcast()
}

func (r *Replay) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// ServeHTTP answers /signals and /statusgo/<Function>.
func (r *Replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/signals" {
		r.accept(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	name := callName(req.URL.Path, body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Polls[pollKey(name)] {
		r.answerPoll(w, req, name)
		return
	}
	// Signals recorded before this call are sent first.
	for !r.stopped && r.nextCall() < 0 && r.next < len(r.entries) {
		r.changed.Wait()
	}
	i := r.nextCall()
	for !r.stopped && i > r.next {
		r.changed.Wait()
		i = r.nextCall()
	}
	if r.stopped || i < 0 {
		r.fail("call %s after the end of the recording", name)
		http.Error(w, "end of recording", http.StatusInternalServerError)
		return
	}
	e := r.entries[i]
	if want := callName(e.Path, e.Request); name != want {
		r.fail("call %d: got %s, the recording has %s", i, name, want)
		http.Error(w, "not the recorded call", http.StatusInternalServerError)
		return
	}
	r.next = i + 1
	r.changed.Broadcast()
	r.write(w, req, e)
}

// nextCall is the index of the next recorded call that is not a poll
// (skipping polls the client did not repeat), or -1.
func (r *Replay) nextCall() int {
	for i := r.next; i < len(r.entries); i++ {
		e := r.entries[i]
		if e.Kind != EntryCall {
			if i == r.next {
				return i + len(r.entries) // not yet: a signal comes first
			}
			continue
		}
		if r.Polls[pollKey(callName(e.Path, e.Request))] {
			if i == r.next {
				r.next++ // a poll in the recording the client need not repeat
			}
			continue
		}
		return i
	}
	return -1
}

// answerPoll answers a repeated read with the recorded answer nearest
// after the current position, else the last one before it.
func (r *Replay) answerPoll(w http.ResponseWriter, req *http.Request, name string) {
	found := -1
	for i, e := range r.entries {
		if e.Kind == EntryCall && callName(e.Path, e.Request) == name {
			found = i
			if i >= r.next {
				break
			}
		}
	}
	if found < 0 {
		r.fail("poll %s: not in the recording", name)
		http.Error(w, "not in the recording", http.StatusInternalServerError)
		return
	}
	r.write(w, req, r.entries[found])
}

func (r *Replay) write(w http.ResponseWriter, req *http.Request, e Entry) {
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

// pollKey is how Polls names a call: its JSON-RPC method, or its path.
func pollKey(name string) string {
	const rpc = "/statusgo/CallRPC "
	if len(name) > len(rpc) && name[:len(rpc)] == rpc {
		return name[len(rpc):]
	}
	return name
}

func (r *Replay) accept(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	refuse := r.closed && r.NoResume
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
	if r.next < len(r.entries) && r.entries[r.next].Kind == EntryWSOpen {
		r.next++
	}
	r.changed.Broadcast()
	r.mu.Unlock()
	go func() { // read until the client goes away, so a close is noticed
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
}

// Play sends signal entries and plays ws_close entries as they become due,
// until the recording ends or Stop.
func (r *Replay) Play() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		for !r.stopped && r.next < len(r.entries) {
			k := r.entries[r.next].Kind
			if (k == EntrySignal || k == EntryWSClose) && r.conn != nil && !r.closed {
				break
			}
			if k == EntryCall && r.Polls[pollKey(callName(r.entries[r.next].Path, r.entries[r.next].Request))] {
				r.next++ // a recorded poll does not hold the signals after it
				continue
			}
			r.changed.Wait()
		}
		if r.stopped || r.next >= len(r.entries) {
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
