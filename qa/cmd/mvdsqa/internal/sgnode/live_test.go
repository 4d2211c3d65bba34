package sgnode

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multiformats/go-multiaddr"
)

// liveBinary is the status-backend the live test drives; without it the
// live test is skipped (CI has no status-go) and the replay tests stand in.
func liveBinary(t *testing.T) string {
	bin := os.Getenv("MVDSQA_STATUS_BACKEND")
	if bin == "" {
		t.Skip("MVDSQA_STATUS_BACKEND (a status-backend binary) is not set")
	}
	return bin
}

// liveNode starts a status-backend for name, recording its exchange to
// dir/name.jsonl, and stops it when the test ends.
func liveNode(t *testing.T, ctx context.Context, bin, dir, name string) (*Node, *Process) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(f)
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartProcess(ctx, name, bin, logf, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Connect(ctx, name, p.Addr(), rec)
	if err != nil {
		p.Stop(10 * time.Second)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		p.Stop(20 * time.Second)
		_ = logf.Close()
		if err := rec.Err(); err != nil {
			t.Error(err)
		}
		_ = f.Close()
	})
	return n, p
}

// loopbackAddr picks a node's 127.0.0.1 address with its /p2p/ id.
func loopbackAddr(t *testing.T, addrs []string) string {
	t.Helper()
	for _, a := range addrs {
		m, err := multiaddr.NewMultiaddr(a)
		if err != nil {
			continue
		}
		if ip, err := m.ValueForProtocol(multiaddr.P_IP4); err == nil && net.ParseIP(ip).IsLoopback() {
			if _, err := m.ValueForProtocol(multiaddr.P_TCP); err == nil {
				return a
			}
		}
	}
	t.Fatalf("no loopback TCP address in %v", addrs)
	return ""
}

// TestLiveExchange drives two real status-backend processes through what
// QA needs (exchange) and, with MVDSQA_RECORD_DIR set, keeps the
// recordings the replay tests play back.
func TestLiveExchange(t *testing.T) {
	bin := liveBinary(t)
	dir := os.Getenv("MVDSQA_RECORD_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := func(name string) *Node {
		n, _ := liveNode(t, ctx, bin, dir, name)
		return n
	}
	// The client drops its own connection: status-backend has no way to
	// be told to.
	drop := func(n *Node) {
		n.Signals.mu.Lock()
		conn := n.Signals.conn
		n.Signals.mu.Unlock()
		_ = conn.UnderlyingConn().Close()
	}
	exchange(t, ctx, start, drop)
}

// exchange is what QA needs of status-go, in one story: two users log in
// on loopback-only Waku, connect, Alice sends Bob a contact request, he
// accepts, she sends a 1:1 message; both are delivered (message.delivered
// at Alice, messages.new at Bob). Status-go refuses a malformed request
// and an unknown method; status-backend does not serve ConnectionChange.
// Alice's signal stream drops (drop) and resumes, and the next delivery is
// seen on it. A third process fails to log in with a wrong password.
func exchange(t *testing.T, ctx context.Context, start func(name string) *Node, drop func(*Node)) {
	data := t.TempDir()
	alice, bob := start("alice"), start("bob")
	for _, n := range []*Node{alice, bob} {
		if err := n.CreateAccount(ctx, LocalProfile(filepath.Join(data, n.Name()), n.Name())); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(n.Account.PublicKey, "0x04") || n.Account.KeyUID == "" {
			t.Fatalf("%s: account not taken from node.login: %+v", n.Name(), n.Account)
		}
	}
	addrs, err := bob.ListenAddresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.DialPeer(ctx, loopbackAddr(t, addrs)); err != nil {
		t.Fatal(err)
	}
	waitPeers(t, ctx, alice)

	cr, err := alice.SendContactRequest(ctx, bob.Account.PublicKey, "hi, it's alice")
	if err != nil {
		t.Fatal(err)
	}
	if cr.OutgoingStatus != "sending" || cr.ContentType != ContentContactRequest {
		t.Errorf("contact request as sent: %+v", cr)
	}
	sent := time.Now()
	if _, err := bob.Signals.Wait(ctx, 0, newMessage(cr.ID)); err != nil {
		t.Fatalf("bob never got the contact request: %v", err)
	}
	t.Logf("contact request %s reached bob in %v", cr.ID, time.Since(sent))
	if _, err := alice.Signals.Wait(ctx, 0, delivered(cr.ID)); err != nil {
		t.Fatalf("the contact request was never delivered: %v", err)
	}
	t.Logf("contact request delivered in %v", time.Since(sent))
	if err := bob.AcceptContactRequest(ctx, cr.ID); err != nil {
		t.Fatal(err)
	}

	msg, err := alice.SendOneToOne(ctx, bob.Account.PublicKey, "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	sent = time.Now()
	if _, err := alice.Signals.Wait(ctx, 0, delivered(msg.ID)); err != nil {
		t.Fatalf("1:1 message never delivered: %v", err)
	}
	t.Logf("1:1 message delivered in %v", time.Since(sent))

	var ce *CallError
	_, err = alice.SendContactRequest(ctx, "", "")
	if !errors.As(err, &ce) || ce.Code != -32000 || !strings.Contains(err.Error(), "node alice: wakuext_sendContactRequest") {
		t.Errorf("a contact request without id: %v", err)
	}
	err = alice.RPC(ctx, "wakuext_noSuchMethod", nil)
	if !errors.As(err, &ce) || ce.Code != -32601 {
		t.Errorf("an unknown method: %v", err)
	}
	if err := alice.ConnectionChange(ctx, false); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "node alice") {
		t.Errorf("ConnectionChange: %v", err)
	}

	drop(alice)
	deadline := time.Now().Add(30 * time.Second)
	for alice.Signals.Gaps() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alice.Signals.Gaps() != 1 {
		t.Fatalf("the signal stream was resumed %d times, want 1", alice.Signals.Gaps())
	}
	seq := alice.Signals.Last()
	msg2, err := alice.SendOneToOne(ctx, bob.Account.PublicKey, "after the drop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Signals.Wait(ctx, seq, delivered(msg2.ID)); err != nil {
		t.Fatalf("delivery after the resumed stream not seen: %v", err)
	}

	bad := LocalProfile(filepath.Join(data, "bob"), "bob")
	bad.Password = "wrong"
	carol := start("login-failed")
	err = carol.Login(ctx, bad, bob.Account.KeyUID)
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "node login-failed: login (node.login)") {
		t.Fatalf("a login with a wrong password: %v", err)
	}
}

func waitPeers(t *testing.T, ctx context.Context, n *Node) {
	t.Helper()
	for i := 0; i < 100; i++ {
		ps, err := n.Peers(ctx)
		if err == nil && len(ps) > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s has no peers", n.Name())
}

func newMessage(id string) func(Signal) bool {
	return func(s Signal) bool {
		for _, m := range NewMessages(s) {
			if strings.EqualFold(m.ID, id) {
				return true
			}
		}
		return false
	}
}

func delivered(id string) func(Signal) bool {
	return func(s Signal) bool { return strings.EqualFold(DeliveredID(s), id) }
}
