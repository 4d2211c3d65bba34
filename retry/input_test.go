package retry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/retry"
)

// ledgerRows counts what the ledger and mvds hold, to show a refused call
// left nothing behind.
func ledgerRows(t *testing.T, db *mvds.DB) [4]int {
	t.Helper()
	var out [4]int
	for i, table := range []string{"retry_messages", "retry_recipients", "retry_events", "mvds_messages"} {
		if err := db.SQL().QueryRow(`SELECT count(*) FROM ` + table).Scan(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestBadSendsAreRefusedAndLeaveNothingBehind(t *testing.T) {
	w := newWorld(t)
	w.send("taken", mvdsguard.OneToOne, retry.Content)
	before := ledgerRows(t, w.dbA)
	g := mvds.GroupID{1}
	cases := map[string]struct {
		out  retry.Outgoing
		want string
	}{
		"no app id":      {retry.Outgoing{Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{w.b}, Payload: []byte("x")}, "empty AppID"},
		"unknown flow":   {retry.Outgoing{AppID: "a", Flow: 9, Peers: []mvds.PeerID{w.b}, Payload: []byte("x")}, "unknown flow 9"},
		"zero flow":      {retry.Outgoing{AppID: "a", Peers: []mvds.PeerID{w.b}, Payload: []byte("x")}, "unknown flow 0"},
		"unknown kind":   {retry.Outgoing{AppID: "a", Flow: mvdsguard.OneToOne, Kind: 5, Peers: []mvds.PeerID{w.b}, Payload: []byte("x")}, "unknown kind 5"},
		"empty payload":  {retry.Outgoing{AppID: "a", Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{w.b}}, "empty payload"},
		"no recipients":  {retry.Outgoing{AppID: "a", Flow: mvdsguard.OneToOne, Payload: []byte("x")}, "no recipients"},
		"both":           {retry.Outgoing{AppID: "a", Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{w.b}, Group: &g, Payload: []byte("x")}, "both Peers and Group"},
		"zero peer":      {retry.Outgoing{AppID: "a", Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{{}}, Payload: []byte("x")}, "zero peer id"},
		"self":           {retry.Outgoing{AppID: "a", Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{w.a}, Payload: []byte("x")}, "this node itself"},
		"duplicate peer": {retry.Outgoing{AppID: "a", Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{w.b, w.b}, Payload: []byte("x")}, "appears twice"},
		"empty group":    {retry.Outgoing{AppID: "a", Flow: mvdsguard.OneToOne, Group: &g, Payload: []byte("x")}, "has no members"},
		"taken app id":   {retry.Outgoing{AppID: "taken", Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{w.b}, Payload: []byte("y")}, "already tracked"},
		"long app id":    {retry.Outgoing{AppID: strings.Repeat("x", 600), Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{w.b}, Payload: []byte("x")}, "more than 512"},
	}
	for name, c := range cases {
		err := w.ga.Send(context.Background(), c.out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Send error = %v; want %q", name, err, c.want)
		}
	}
	if after := ledgerRows(t, w.dbA); after != before {
		t.Fatalf("refused sends changed the database: %v → %v", before, after)
	}
}

func TestActionsOnUnknownMessagesFail(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for name, err := range map[string]error{
		"retry":   w.ga.Retry(ctx, "nope"),
		"discard": w.ga.Discard(ctx, "nope"),
	} {
		if !errors.Is(err, retry.ErrUnknownMessage) || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("%s of an unknown AppID: %v; want ErrUnknownMessage naming it", name, err)
		}
	}
	if _, err := w.ga.Status(ctx, "nope"); !errors.Is(err, retry.ErrUnknownMessage) {
		t.Errorf("status of an unknown AppID: %v", err)
	}
	if _, err := w.ga.Pending(ctx, retry.Filter{Statuses: []mvdsguard.Status{7}}); err == nil {
		t.Error("a filter with an unknown status was accepted")
	}
}

func TestTrackRecordsWhatTheApplicationAppendedItself(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	node := w.ga.Node()
	g := mvds.GroupID{0x77}
	if err := node.AddPeer(ctx, g, w.b); err != nil {
		t.Fatal(err)
	}
	if err := w.gb.Node().AddPeer(ctx, g, w.a); err != nil {
		t.Fatal(err)
	}
	id, err := node.Append(ctx, g, []byte("appended by status-go"))
	if err != nil {
		t.Fatal(err)
	}
	meta := retry.Meta{AppID: "sg-1", ChatID: "chat", Flow: mvdsguard.ContactRequest, Kind: retry.Control}
	if err := w.ga.Track(ctx, id, meta); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10e9, "tracked message delivered", func() bool { return w.status("sg-1").Status == mvdsguard.Delivered })

	before := ledgerRows(t, w.dbA)
	for name, c := range map[string]struct {
		id   mvds.MessageID
		meta retry.Meta
		want error
	}{
		"unknown id":   {mvds.MessageID{9}, retry.Meta{AppID: "sg-2", Flow: mvdsguard.OneToOne}, retry.ErrUnknownMessage},
		"tracked app":  {id, meta, retry.ErrAlreadyTracked},
		"tracked mvds": {id, retry.Meta{AppID: "sg-3", Flow: mvdsguard.OneToOne}, retry.ErrAlreadyTracked},
		"unknown flow": {id, retry.Meta{AppID: "sg-4", Flow: 0}, retry.ErrInvalidOutgoing},
		"empty app id": {id, retry.Meta{Flow: mvdsguard.OneToOne}, retry.ErrInvalidOutgoing},
	} {
		if err := w.ga.Track(ctx, c.id, c.meta); !errors.Is(err, c.want) {
			t.Errorf("%s: Track error = %v; want %v", name, err, c.want)
		}
	}
	if after := ledgerRows(t, w.dbA); after != before {
		t.Fatalf("refused Track calls changed the ledger: %v → %v", before, after)
	}
}

func TestGroupRecipientsAreTrackedOneByOne(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := peerID(3)
	if _, err := w.net.Join(c); err != nil { // c never runs a node: never acks
		t.Fatal(err)
	}
	err := w.ga.Send(ctx, retry.Outgoing{AppID: "g1", Flow: mvdsguard.PrivateGroup, Kind: retry.Control,
		Peers: []mvds.PeerID{w.b, c}, Payload: []byte("membership update")})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10e9, "b's ack", func() bool {
		s := w.status("g1")
		for _, r := range s.Recipients {
			if r.Peer == w.b && r.Status == mvdsguard.Delivered {
				return true
			}
		}
		return false
	})
	if s := w.status("g1"); s.Status != mvdsguard.Pending || len(s.Recipients) != 2 {
		t.Fatalf("with one recipient silent the message is %s with %d recipients; want pending with 2", s.Status, len(s.Recipients))
	}
}
