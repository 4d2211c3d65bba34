package sgnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Signal is one of status-go's signals: {"type": …, "event": …}.
type Signal struct {
	Seq   int             // 1, 2, … in the order this client received them
	At    time.Time       // when this client received it
	Type  string          `json:"type"`
	Event json.RawMessage `json:"event"`
}

// Signals is the signal stream of one status-backend. When the WebSocket
// drops, it dials again (see SetResume) and goes on;
// status-backend does not replay what it sent meanwhile, so a consumer that
// must not miss a state asks status-go for it after a gap (Gaps counts
// them). When it cannot dial again, the stream is closed and Wait returns
// an error naming the node.
type Signals struct {
	name string
	url  string
	rec  *Recorder

	mu       sync.Mutex
	resumes  int           // dial attempts after a drop before giving up
	backoff  time.Duration // the pause between them
	log      []Signal
	changed  chan struct{} // closed and replaced on every change
	gaps     int
	err      error // set once the stream is closed for good
	closedAt time.Time
	conn     *websocket.Conn
	stopped  bool
	done     chan struct{}
	netDial  func(ctx context.Context, network, addr string) (net.Conn, error) // nil: the default dialer
}

// DialSignals opens the signal stream of the status-backend at addr. It
// returns when the WebSocket is open: status-go sends signals only to
// connections open at the time.
func DialSignals(ctx context.Context, name, addr string, rec *Recorder, opts ...Option) (*Signals, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	u := addr
	u = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "ws://")
	s := &Signals{name: name, url: "ws://" + strings.TrimRight(u, "/") + "/signals", rec: rec,
		resumes: 20, backoff: 250 * time.Millisecond, changed: make(chan struct{}), done: make(chan struct{}), netDial: o.dial}
	conn, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.conn = conn
	go s.read(conn)
	return s, nil
}

func (s *Signals) dial(ctx context.Context) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: s.netDial}
	conn, resp, err := d.DialContext(ctx, s.url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("node %s: signals: %s: HTTP %d: is this a status-backend?", s.name, s.url, resp.StatusCode)
		}
		return nil, fmt.Errorf("node %s: signals: %w", s.name, err)
	}
	s.rec.add(Entry{Kind: EntryWSOpen, Path: "/signals"})
	return conn, nil
}

// read receives signals until the connection drops, then resumes.
func (s *Signals) read(conn *websocket.Conn) {
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			_ = conn.Close()
			s.mu.Lock()
			stopped := s.stopped
			s.mu.Unlock()
			if stopped {
				return
			}
			s.rec.add(Entry{Kind: EntryWSClose, Path: "/signals", Text: err.Error()})
			next, rerr := s.resume(err)
			if rerr != nil {
				s.close(rerr)
				return
			}
			if next == nil { // stopped
				return
			}
			conn = next
			continue
		}
		var sig Signal
		e := Entry{Kind: EntrySignal}
		e.Signal, e.Text = rawOrText(b)
		s.rec.add(e)
		if err := json.Unmarshal(b, &sig); err != nil || sig.Type == "" {
			// Not a signal: keep it visible rather than drop it silently.
			sig = Signal{Type: "invalid", Event: json.RawMessage(mustJSON(string(b)))}
		}
		s.mu.Lock()
		sig.Seq, sig.At = len(s.log)+1, time.Now()
		s.log = append(s.log, sig)
		s.notify()
		s.mu.Unlock()
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// resume dials again after the connection dropped with cause; nil, nil
// when the stream was stopped meanwhile.
func (s *Signals) resume(cause error) (*websocket.Conn, error) {
	s.mu.Lock()
	attempts, backoff := s.resumes, s.backoff
	s.mu.Unlock()
	for i := 0; i < attempts; i++ {
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return nil, nil
		}
		select {
		case <-s.done:
			return nil, nil
		case <-time.After(backoff):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := s.dial(ctx)
		cancel()
		if err == nil {
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				_ = conn.Close()
				return nil, nil
			}
			s.conn = conn
			s.gaps++
			s.notify()
			s.mu.Unlock()
			return conn, nil
		}
	}
	return nil, fmt.Errorf("node %s: signal stream closed (%v) and not resumed after %d attempts", s.name, cause, attempts)
}

// SetResume sets how many times the stream dials again after a drop
// before it gives up (default 20), and the pause between attempts (default
// 250 ms).
func (s *Signals) SetResume(attempts int, backoff time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resumes, s.backoff = attempts, backoff
}

func (s *Signals) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Signals) close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err, s.closedAt = err, time.Now()
	}
	s.notify()
}

// ClosedAt is when the stream ended for good (zero while it runs).
func (s *Signals) ClosedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closedAt
}

// Stop closes the stream for good.
func (s *Signals) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	close(s.done)
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	s.close(fmt.Errorf("node %s: signal stream stopped", s.name))
}

// ErrStreamClosed marks a signal stream that ended.
var ErrStreamClosed = errors.New("signal stream closed")

// Err is why the stream ended, nil while it runs.
func (s *Signals) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Gaps is how many times the stream dropped and was resumed.
func (s *Signals) Gaps() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gaps
}

// Since returns the signals after sequence number seq.
func (s *Signals) Since(seq int) []Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < 0 {
		seq = 0
	}
	if seq >= len(s.log) {
		return nil
	}
	return append([]Signal(nil), s.log[seq:]...)
}

// Wait returns the first signal after seq for which match is true. It
// fails when ctx ends or the stream closes first.
func (s *Signals) Wait(ctx context.Context, seq int, match func(Signal) bool) (Signal, error) {
	for {
		s.mu.Lock()
		for ; seq < len(s.log); seq++ {
			if match(s.log[seq]) {
				sig := s.log[seq]
				s.mu.Unlock()
				return sig, nil
			}
		}
		err, ch := s.err, s.changed
		s.mu.Unlock()
		if err != nil {
			return Signal{}, fmt.Errorf("%w: %w", ErrStreamClosed, err)
		}
		select {
		case <-ctx.Done():
			return Signal{}, fmt.Errorf("node %s: waiting for a signal: %w", s.name, ctx.Err())
		case <-ch:
		}
	}
}

// Last is the sequence number of the last signal received.
func (s *Signals) Last() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}
