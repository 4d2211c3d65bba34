// Package live feeds a runtime Recorder from a running system: a Guard's
// lifecycle events (Watch), the connectivity the device reports (a wrapper
// around a retry.Connectivity) and the messages the application is handed
// (a wrapper around an mvds.Handler). A QA harness or an application wires
// these three and gets the same verdicts the runtime audit gives on a log,
// while the traffic happens.
//
// It knows the Guard's public API, the connectivity interface and the mvds
// handler signature; it must not know how the checks work or how a Guard
// works inside.
package live

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/retry"
)

// Input is how evidence of live records names its source.
const Input = "live"

// evidence renders a record in the JSON Lines form, so that a live report
// quotes what a recorded file would hold.
func evidence(r dynamic.Record) dynamic.Evidence {
	b, err := json.Marshal(r)
	if err != nil {
		return dynamic.Evidence{Input: Input, Text: fmt.Sprintf("%s %s %s", r.Kind, r.Node, r.ID)}
	}
	return dynamic.Evidence{Input: Input, Text: dynamic.Clip(string(b))}
}

func add(rec *dynamic.Recorder, r dynamic.Record) {
	r.Evidence = evidence(r)
	// A record the Recorder refuses is counted in its report.
	_ = rec.Add(r)
}

// Watcher records a Guard's events.
type Watcher struct {
	g      *retry.Guard
	rec    *dynamic.Recorder
	node   string
	sub    *retry.Subscription
	start  time.Time
	mu     sync.Mutex
	last   uint64
	cancel context.CancelFunc
	done   chan struct{}
}

// WatchOption configures Watch.
type WatchOption func(*Watcher)

// After starts from the event after seq instead of the beginning of the log.
func After(seq uint64) WatchOption { return func(w *Watcher) { w.last = seq } }

// Watch records every event of g as node's, from the beginning of its event
// log, until Close. It also moves the Recorder's clock every tick (one
// second if tick is 0), so that horizons and reconnect deadlines are judged
// while nothing happens.
//
// Live events are timed when they are seen (the Guard stamps events with
// whole seconds, too coarse to compare with a reconnect); events written
// before Watch started are timed by their own stamp.
func Watch(g *retry.Guard, rec *dynamic.Recorder, node string, tick time.Duration, opts ...WatchOption) (*Watcher, error) {
	if g == nil || rec == nil {
		return nil, errors.New("live watch: nil guard or recorder")
	}
	if tick <= 0 {
		tick = time.Second
	}
	w := &Watcher{g: g, rec: rec, node: node, start: time.Now(), done: make(chan struct{})}
	for _, o := range opts {
		o(w)
	}
	sub, err := g.Subscribe(w.last)
	if err != nil {
		return nil, fmt.Errorf("live watch %s: %w", node, err)
	}
	w.sub = sub
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.run(ctx, tick)
	return w, nil
}

func (w *Watcher) run(ctx context.Context, tick time.Duration) {
	defer close(w.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	events := w.sub.Events()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.rec.Advance(time.Now())
		case e, ok := <-events:
			if !ok {
				return
			}
			at := time.Now()
			if e.At < w.start.Unix() {
				at = time.Unix(e.At, 0)
			}
			add(w.rec, dynamic.FromEvent(e, w.node, at))
			w.mu.Lock()
			w.last = e.Seq
			w.mu.Unlock()
		}
	}
}

// Last returns the sequence number of the last event recorded.
func (w *Watcher) Last() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Sync waits until every event the Guard has written so far is recorded.
func (w *Watcher) Sync(ctx context.Context) error {
	for {
		es, err := w.g.Events(ctx, w.Last(), 1)
		if err != nil {
			return fmt.Errorf("live sync %s: %w", w.node, err)
		}
		if len(es) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("live sync %s: %w", w.node, ctx.Err())
		case <-w.done:
			return fmt.Errorf("live sync %s: the watch ended at event %d", w.node, w.Last())
		case <-time.After(time.Millisecond):
		}
	}
}

// Close stops recording.
func (w *Watcher) Close() {
	w.cancel()
	w.sub.Close()
	<-w.done
}

// ConnectivityRecorder is a retry.Connectivity that records what another
// source reports and passes it on. Give it to the Guard in place of the
// source.
type ConnectivityRecorder struct {
	src     retry.Connectivity
	rec     *dynamic.Recorder
	node    string
	changes chan bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// Connectivity wraps src. The state at the time of the call is recorded
// (it is not a reconnect: nothing was known before), then every change.
func Connectivity(src retry.Connectivity, rec *dynamic.Recorder, node string) *ConnectivityRecorder {
	ctx, cancel := context.WithCancel(context.Background())
	c := &ConnectivityRecorder{src: src, rec: rec, node: node, changes: make(chan bool, 1), cancel: cancel, done: make(chan struct{})}
	c.record(src.Online())
	go c.run(ctx)
	return c
}

func (c *ConnectivityRecorder) record(online bool) {
	add(c.rec, dynamic.Record{Kind: dynamic.KindConnectivity, At: time.Now(), Node: c.node, Online: online, Attempts: -1})
}

func (c *ConnectivityRecorder) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.src.Changes():
			online := c.src.Online()
			c.record(online)
			// Keep only the latest value, as retry.Manual does.
			select {
			case <-c.changes:
			default:
			}
			c.changes <- online
		}
	}
}

// Online implements retry.Connectivity.
func (c *ConnectivityRecorder) Online() bool { return c.src.Online() }

// Changes implements retry.Connectivity.
func (c *ConnectivityRecorder) Changes() <-chan bool { return c.changes }

// Close stops recording and passing on changes.
func (c *ConnectivityRecorder) Close() {
	c.cancel()
	<-c.done
}

// Handler wraps an application's mvds handler: every message the handler
// accepts (returns nil for) is recorded as a receipt of node, under the id
// id returns (the mvds message id in hex when id is nil). A message handed
// over again after a failed attempt to handle it is not a second receipt; a
// message accepted twice is.
func Handler(h mvds.Handler, rec *dynamic.Recorder, node string, id func(mvds.Received) string) mvds.Handler {
	if id == nil {
		id = func(m mvds.Received) string { return "0x" + hex.EncodeToString(m.ID[:]) }
	}
	return func(ctx context.Context, tx *sql.Tx, m mvds.Received) error {
		if err := h(ctx, tx, m); err != nil {
			return err
		}
		add(rec, dynamic.Record{Kind: dynamic.KindReceipt, At: time.Now(), Node: node, ID: id(m),
			Peer: retry.PeerHex(m.Sender[:]), Attempts: -1})
		return nil
	}
}

// Sent records a message the application sent itself, outside the Guard,
// on path via (for example a community topic): the audit judges it like a
// logged send.
func Sent(rec *dynamic.Recorder, node, id string, flow mvdsguard.Flow, via dynamic.Via, peers ...string) {
	add(rec, dynamic.Record{Kind: dynamic.KindSend, At: time.Now(), Node: node, ID: id, Flow: flow, Via: via, Peers: peers, Attempts: -1})
}
