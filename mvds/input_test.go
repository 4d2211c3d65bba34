package mvds_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/transport"

	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

func TestConstructorsRejectBadInput(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, "a.db")
	defer db.Close()
	net := memtransport.New(1)
	ep, err := net.Join(peerID(1))
	if err != nil {
		t.Fatal(err)
	}
	var nilEndpoint *memtransport.Endpoint
	cases := map[string]struct {
		db   *mvds.DB
		tr   transport.Transport
		id   mvds.PeerID
		opts []mvds.Option
		want string
	}{
		"nil database":  {nil, ep, peerID(1), nil, "nil database"},
		"nil transport": {db, nil, peerID(1), nil, "nil transport"},
		"typed nil":     {db, nilEndpoint, peerID(1), nil, "nil transport"},
		"zero identity": {db, ep, mvds.PeerID{}, nil, "zero peer id"},
		"nil option":    {db, ep, peerID(1), []mvds.Option{nil}, "option 0 is nil"},
		"zero epoch":    {db, ep, peerID(1), []mvds.Option{mvds.WithEpoch(0)}, "must be positive"},
		"unknown mode":  {db, ep, peerID(1), []mvds.Option{mvds.WithMode(7)}, "unknown mode 7"},
		"nil hook":      {db, ep, peerID(1), []mvds.Option{mvds.WithHook(nil)}, "nil hook"},
		"nil handler":   {db, ep, peerID(1), []mvds.Option{mvds.WithHandler(nil)}, "nil handler"},
	}
	for name, c := range cases {
		n, err := mvds.NewNode(c.db, c.tr, c.id, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewNode error = %v; want %q", name, err, c.want)
		}
		if n != nil {
			n.Close()
		}
		if name == "unknown mode" || name == "nil hook" {
			continue // the stock node refuses these options whatever their value
		}
		s, err := mvds.NewStockNode(c.db, c.tr, c.id, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewStockNode error = %v; want %q", name, err, c.want)
		}
		if s != nil {
			s.Close()
		}
	}
}

func TestDatabaseServesOneIdentity(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, "a.db")
	defer db.Close()
	net := memtransport.New(1)
	n := startNode(t, net, db, peerID(1), nil)
	n.Close()
	ep, err := net.Join(peerID(2))
	if err != nil {
		t.Fatal(err)
	}
	_, err = mvds.NewNode(db, ep, peerID(2))
	if err == nil || !strings.Contains(err.Error(), "belongs to node 0401") {
		t.Fatalf("second identity on the same database: %v; want a clear refusal", err)
	}
}

func TestAppendRefusesWhatMvdsWouldMishandle(t *testing.T) {
	h := newSteeringHook()
	h.paused.Store(true)
	p := startPair(t, h)
	ctx := context.Background()
	if _, err := p.na.Append(ctx, groupID(77), []byte("nobody")); err == nil || !strings.Contains(err.Error(), "no members") {
		t.Errorf("append to a group without members: %v; want a clear error", err)
	}
	body := []byte("twice in one second")
	var err error
	for i := 0; i < 2 && err == nil; i++ {
		_, err = p.na.Append(ctx, p.g, body)
	}
	// Two appends of one body in one second get one id from mvds; unless the
	// second landed in the next second, it must be refused.
	if err != nil && !strings.Contains(err.Error(), "already appended") {
		t.Errorf("duplicate append: %v", err)
	}
	var states int
	if err := p.na.DB().SQL().QueryRow(`SELECT count(*) FROM mvds_states`).Scan(&states); err != nil {
		t.Fatal(err)
	}
	if msgs := countRows(t, p.na.DB().SQL(), "mvds_messages"); msgs != states {
		t.Errorf("%d messages but %d states: a refused append left something behind", msgs, states)
	}
	if err := p.na.AddPeer(ctx, p.g, mvds.PeerID{}); err == nil {
		t.Error("the zero peer id was added")
	}
}

func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOperationsOnAClosedNodeFail(t *testing.T) {
	p := startPair(t, nil)
	if err := p.na.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.na.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.na.Append(context.Background(), p.g, []byte("late")); !errors.Is(err, mvds.ErrClosed) {
		t.Fatalf("Append after Close: %v; want ErrClosed", err)
	}
}

func TestFailingHandlerIsOfferedTheMessageAgain(t *testing.T) {
	dir := t.TempDir()
	net := memtransport.New(2)
	a, b := peerID(1), peerID(2)
	g := groupID(2)
	dbA, dbB := openDB(t, dir, "a.db"), openDB(t, dir, "b.db")
	defer dbA.Close()
	defer dbB.Close()
	if _, err := dbB.SQL().Exec(`CREATE TABLE app_messages (id BLOB PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	handler := func(_ context.Context, tx *sql.Tx, m mvds.Received) error {
		if _, err := tx.Exec(`INSERT INTO app_messages (id) VALUES (?)`, m.ID[:]); err != nil {
			return err
		}
		if calls.Add(1) <= 2 {
			return errors.New("application busy") // rolls back the insert above
		}
		return nil
	}
	na := startNode(t, net, dbA, a, nil)
	defer na.Close()
	epB, err := net.Join(b)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := mvds.NewNode(dbB, epB, b, mvds.WithEpoch(testEpoch), mvds.WithHandler(handler))
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	ctx := context.Background()
	if err := na.AddPeer(ctx, g, b); err != nil {
		t.Fatal(err)
	}
	if _, err := na.Append(ctx, g, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the third, successful handler call", func() bool { return calls.Load() >= 3 })
	time.Sleep(50 * time.Millisecond)
	if got := calls.Load(); got != 3 {
		t.Errorf("handler called %d times; want 3 (two failures, one success, then never again)", got)
	}
	if n := countRows(t, dbB.SQL(), "app_messages"); n != 1 {
		t.Errorf("%d rows written through the handler's transaction; want exactly 1", n)
	}
}

// scriptedTransport delivers the packets a test gives it; it stands in for a
// network that carries malformed payloads, which memtransport never produces.
type scriptedTransport struct {
	in   chan transport.Packet
	done chan struct{}
}

func (s *scriptedTransport) Watch() transport.Packet {
	select {
	case p := <-s.in:
		return p
	case <-s.done:
		return transport.Packet{}
	}
}
func (s *scriptedTransport) Send(mvds.PeerID, mvds.PeerID, *protobuf.Payload) error { return nil }
func (s *scriptedTransport) Close() error                                           { close(s.done); return nil }

func TestInvalidPacketsAreCountedAndDropped(t *testing.T) {
	db := openDB(t, t.TempDir(), "a.db")
	defer db.Close()
	tr := &scriptedTransport{in: make(chan transport.Packet), done: make(chan struct{})}
	inbox := newInboxRecorder()
	n, err := mvds.NewNode(db, tr, peerID(1), mvds.WithEpoch(testEpoch), mvds.WithHandler(inbox.handle))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	good := make([]byte, 32)
	for _, p := range []transport.Packet{
		{Sender: peerID(2), Payload: &protobuf.Payload{Acks: [][]byte{{1, 2, 3}}}},
		{Sender: mvds.PeerID{}, Payload: &protobuf.Payload{Acks: [][]byte{good}}},
		{Sender: peerID(2), Payload: &protobuf.Payload{Messages: []*protobuf.Message{{GroupId: []byte{1}, Body: []byte("x")}}}},
		{Sender: peerID(2), Payload: &protobuf.Payload{}},
		{Sender: peerID(2), Payload: &protobuf.Payload{Messages: []*protobuf.Message{{GroupId: good, Body: []byte("valid")}}}},
	} {
		tr.in <- p
	}
	eventually(t, 10*time.Second, "the valid message", func() bool { return inbox.distinct() == 1 })
	if st := n.Stats(); st.PacketsInvalid != 4 || st.PacketsIn != 1 {
		t.Fatalf("stats %+v; want 4 invalid packets dropped and 1 processed", st)
	}
}

// status-go's paired devices share one identity, and it sends to them through
// mvds as to its own id. Here the transport hands the copy back to the node
// itself, which settles the state as a paired device's copy would.
func TestANodeSendsToItsOwnIDForItsPairedDevices(t *testing.T) {
	p := startPair(t, nil)
	ctx := context.Background()
	g := groupID(31)
	if err := p.na.AddPeer(ctx, g, p.a); err != nil {
		t.Fatalf("the node's own id as a peer: %v", err)
	}
	id, err := p.na.Append(ctx, g, []byte("to my other devices"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the copy to the node's own id settled", func() bool {
		return len(p.states(t, mvds.MessageStates(id))) == 0
	})
}
