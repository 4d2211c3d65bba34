package wakutransport

import (
	"bytes"
	"errors"
	"testing"

	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/state"
	"google.golang.org/protobuf/proto"

	"github.com/mvdsguard/mvdsguard/mvds/wire"
)

func sealed(t testing.TB) (env []byte, self state.PeerID, packet []byte) {
	t.Helper()
	alice, bob := newKey(t), newKey(t)
	packet, err := wire.Encode(PeerIDOf(alice), oneMessage("hi"))
	if err != nil {
		t.Fatal(err)
	}
	env, err = Seal(alice, PeerIDOf(bob), packet)
	if err != nil {
		t.Fatal(err)
	}
	return env, PeerIDOf(bob), packet
}

func TestOpenReturnsWhatSealSigned(t *testing.T) {
	env, bob, _ := sealed(t)
	p, err := Open(bob, env)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Payload.Messages[0].Body) != "hi" {
		t.Fatalf("payload %v", p.Payload)
	}
}

func TestOpenRejectsTamperingForgeryAndReplayToAnotherPeer(t *testing.T) {
	env, bob, packet := sealed(t)
	mallory := newKey(t)
	flip := func(i int) []byte {
		b := bytes.Clone(env)
		b[i] ^= 1
		return b
	}
	// mallory signs alice's packet with her own key.
	forged, err := Seal(mallory, bob, packet)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		env  []byte
		self state.PeerID
		want error
	}{
		"body byte flipped":        {flip(len(env) - 1), bob, ErrBadSignature},
		"claimed sender changed":   {flip(envelopeHeader + 3), bob, ErrBadSignature},
		"signature byte flipped":   {flip(5), bob, ErrBadSignature},
		"signed by someone else":   {forged, bob, ErrBadSignature},
		"replayed to another peer": {env, PeerIDOf(mallory), ErrBadSignature},
		"unknown version":          {append([]byte{9}, env[1:]...), bob, ErrMalformed},
		"truncated":                {env[:40], bob, ErrMalformed},
		"empty":                    {nil, bob, ErrMalformed},
	} {
		if _, err := Open(c.self, c.env); !errors.Is(err, c.want) {
			t.Errorf("%s: %v; want %v", name, err, c.want)
		}
	}
}

func TestOpenAppliesWireValidationToSignedPackets(t *testing.T) {
	alice, bob := newKey(t), newKey(t)
	// A correctly signed packet whose ack id is 3 bytes: mvds would misread it.
	body, _ := proto.Marshal(&protobuf.Payload{Acks: [][]byte{{1, 2, 3}}})
	id := PeerIDOf(alice)
	packet := append(append([]byte{wire.Version}, id[:]...), body...)
	env, err := Seal(alice, PeerIDOf(bob), packet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(PeerIDOf(bob), env); err == nil || errors.Is(err, ErrBadSignature) {
		t.Fatalf("%v; want wire's validation error", err)
	}
}

func TestSplitKeepsEveryElementAndRespectsTheLimit(t *testing.T) {
	p := &protobuf.Payload{}
	for i := 0; i < 50; i++ {
		p.Acks = append(p.Acks, bytes.Repeat([]byte{byte(i)}, 32))
		m := oneMessage(string(bytes.Repeat([]byte{'x'}, 100))).Messages[0]
		m.Timestamp = int64(i)
		p.Messages = append(p.Messages, m)
	}
	const limit = 1000
	parts, err := split(p, limit)
	if err != nil {
		t.Fatal(err)
	}
	acks, msgs := 0, 0
	for _, q := range parts {
		if n := proto.Size(q); n > limit || !q.IsValid() {
			t.Errorf("part of %d bytes (valid %v)", n, q.IsValid())
		}
		acks += len(q.Acks)
		msgs += len(q.Messages)
	}
	if acks != 50 || msgs != 50 || len(parts) < proto.Size(p)/limit {
		t.Errorf("%d parts with %d acks, %d messages; want all 50 of each", len(parts), acks, msgs)
	}
	if one, _ := split(oneMessage("small"), limit); len(one) != 1 {
		t.Errorf("a small payload was split in %d", len(one))
	}
}

// FuzzOpen: whatever arrives on a node's topic, Open returns a packet that
// passes mvds/wire's validation or an error — never a panic.
func FuzzOpen(f *testing.F) {
	env, bob, _ := sealed(f)
	f.Add(env)
	f.Add(env[:envelopeHeader+10])
	f.Add([]byte{envelopeVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Open(bob, b)
		if err != nil {
			return
		}
		if err := wire.Validate(p.Sender, p.Payload); err != nil {
			t.Fatalf("Open accepted a packet wire rejects: %v", err)
		}
	})
}
