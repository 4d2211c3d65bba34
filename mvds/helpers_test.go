package mvds_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/mvdsguard/mvdsguard/internal/wait"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
)

// testEpoch keeps tests fast while leaving mvds's goroutines room to run
// under the race detector.
const testEpoch = 2 * time.Millisecond

func peerID(b byte) mvds.PeerID {
	var p mvds.PeerID
	p[0] = 0x04
	p[1] = b
	return p
}

func groupID(b byte) mvds.GroupID {
	var g mvds.GroupID
	g[0] = 0xee
	g[1] = b
	return g
}

func openDB(t testing.TB, dir, name string) *mvds.DB {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// inboxRecorder is a Handler that remembers what the application received
// and how often.
type inboxRecorder struct {
	mu    sync.Mutex
	count map[mvds.MessageID]int
	order []mvds.MessageID
}

func newInboxRecorder() *inboxRecorder {
	return &inboxRecorder{count: map[mvds.MessageID]int{}}
}

func (r *inboxRecorder) handle(_ context.Context, _ *sql.Tx, m mvds.Received) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count[m.ID]++
	r.order = append(r.order, m.ID)
	return nil
}

func (r *inboxRecorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.count)
}

func (r *inboxRecorder) duplicates() []mvds.MessageID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d []mvds.MessageID
	for id, n := range r.count {
		if n > 1 {
			d = append(d, id)
		}
	}
	return d
}

type stateKey struct {
	msg  mvds.MessageID
	peer mvds.PeerID
}

func keyOf(s mvds.State) stateKey { return stateKey{s.MessageID, s.PeerID} }

// hookRecorder observes every lifecycle call. When removeAtLimit is set it
// asks for states over the limit to be deleted, as mvds would.
type hookRecorder struct {
	mvds.NopHook
	removeAtLimit bool

	mu        sync.Mutex
	scheduled map[stateKey]mvds.Origin
	attempts  map[stateKey]int
	acked     map[stateKey]int
	limit     map[stateKey]int
	failures  int
}

func newHookRecorder() *hookRecorder {
	return &hookRecorder{
		scheduled: map[stateKey]mvds.Origin{},
		attempts:  map[stateKey]int{},
		acked:     map[stateKey]int{},
		limit:     map[stateKey]int{},
	}
}

func (h *hookRecorder) Scheduled(_ *sql.Tx, s mvds.State, o mvds.Origin) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scheduled[keyOf(s)] = o
	return nil
}

func (h *hookRecorder) Attempted(_ *sql.Tx, _ int64, states []mvds.State) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range states {
		h.attempts[keyOf(s)]++
	}
	return nil
}

func (h *hookRecorder) Acked(_ *sql.Tx, _ int64, s mvds.State) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acked[keyOf(s)]++
	return nil
}

func (h *hookRecorder) LimitReached(_ *sql.Tx, _ int64, s mvds.State) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.limit[keyOf(s)]++
	return h.removeAtLimit, nil
}

func (h *hookRecorder) SendFailed(*sql.Tx, int64, []mvds.State, error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures++
	return nil
}

func (h *hookRecorder) attemptCount(k stateKey) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts[k]
}

func (h *hookRecorder) ackedCount(keys []stateKey) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, k := range keys {
		if h.acked[k] > 0 {
			n++
		}
	}
	return n
}

// eventually waits, bounded in time, for cond.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	wait.For(t, within, what, cond)
}

// startNode joins id to the network and starts a node on db.
func startNode(t testing.TB, net *memtransport.Network, db *mvds.DB, id mvds.PeerID, inbox *inboxRecorder, opts ...mvds.Option) *mvds.Node {
	t.Helper()
	ep, err := net.Join(id)
	if err != nil {
		t.Fatal(err)
	}
	base := []mvds.Option{mvds.WithEpoch(testEpoch), mvds.WithLogger(zaptest.NewLogger(t, zaptest.Level(zapWarn)))}
	if inbox != nil {
		base = append(base, mvds.WithHandler(inbox.handle))
	}
	n, err := mvds.NewNode(db, ep, id, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
