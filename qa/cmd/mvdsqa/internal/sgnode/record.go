package sgnode

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Entry is one line of a recording: a request the client made and the
// answer it got, or a WebSocket event. Recordings are JSON lines, one Entry
// each, in the order the client saw them.
type Entry struct {
	// At is the time since the recording started, in milliseconds; Unix
	// the wall clock, in milliseconds since 1970, to line up the
	// recordings of several nodes.
	At   int64 `json:"at"`
	Unix int64 `json:"unixMs,omitempty"`
	// Kind is "call" (an HTTP request and its answer), "signal" (a message
	// on /signals), "ws_open" or "ws_close".
	Kind string `json:"kind"`
	// Path is the request's path ("/statusgo/CallRPC").
	Path string `json:"path,omitempty"`
	// Request is the request body as sent; Status and Response the answer.
	Request  json.RawMessage `json:"request,omitempty"`
	Status   int             `json:"status,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
	// Text is an answer or signal that is not JSON, or a WebSocket close
	// reason.
	Text string `json:"text,omitempty"`
	// Signal is a message on /signals.
	Signal json.RawMessage `json:"signal,omitempty"`
}

// Entry kinds.
const (
	EntryCall    = "call"
	EntrySignal  = "signal"
	EntryWSOpen  = "ws_open"
	EntryWSClose = "ws_close"
)

// Recorder writes a recording. It is safe for concurrent use; a nil
// Recorder records nothing.
type Recorder struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	err   error
}

// NewRecorder records to w, timing entries from now.
func NewRecorder(w io.Writer) *Recorder { return &Recorder{w: w, start: time.Now()} }

func (r *Recorder) add(e Entry) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	e.At, e.Unix = now.Sub(r.start).Milliseconds(), now.UnixMilli()
	b, err := json.Marshal(e)
	if err == nil {
		b = append(b, '\n')
		_, err = r.w.Write(b)
	}
	if err != nil && r.err == nil {
		r.err = err
	}
}

// Err is the first error writing the recording met.
func (r *Recorder) Err() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// rawOrText puts b in the Entry as JSON when it is JSON, as text otherwise.
func rawOrText(b []byte) (json.RawMessage, string) {
	if len(b) > 0 && json.Valid(b) {
		return json.RawMessage(append([]byte(nil), b...)), ""
	}
	return nil, string(b)
}

// ReadRecording reads a recording file. Errors name the file and line.
func ReadRecording(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readEntries(path, f)
}

func readEntries(name string, rd io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		switch e.Kind {
		case EntryCall:
			if e.Path == "" {
				return nil, fmt.Errorf("%s:%d: a call without a path", name, line)
			}
		case EntrySignal:
			if len(e.Signal) == 0 && e.Text == "" {
				return nil, fmt.Errorf("%s:%d: a signal without content", name, line)
			}
		case EntryWSOpen, EntryWSClose:
		default:
			return nil, fmt.Errorf("%s:%d: unknown kind %q", name, line, e.Kind)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return out, nil
}
