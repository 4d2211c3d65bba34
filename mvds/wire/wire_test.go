package wire_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/state"
	"google.golang.org/protobuf/proto"

	"github.com/mvdsguard/mvdsguard/mvds/wire"
)

func peer(b byte) state.PeerID {
	var p state.PeerID
	p[0] = 0x04
	p[1] = b
	return p
}

func id(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func samplePayload() *protobuf.Payload {
	return &protobuf.Payload{
		Acks:     [][]byte{id(1)},
		Offers:   [][]byte{id(2)},
		Requests: [][]byte{id(3)},
		Messages: []*protobuf.Message{{GroupId: id(9), Timestamp: 1732000000, Body: []byte("hello")}},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	b, err := wire.Encode(peer(7), samplePayload())
	if err != nil {
		t.Fatal(err)
	}
	p, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Sender != peer(7) || !proto.Equal(p.Payload, samplePayload()) {
		t.Fatalf("round trip changed the packet: %v %v", p.Sender[:2], p.Payload)
	}
}

func TestDecodeRejectsWhatMvdsWouldMisread(t *testing.T) {
	valid, err := wire.Encode(peer(1), samplePayload())
	if err != nil {
		t.Fatal(err)
	}
	encode := func(sender state.PeerID, p *protobuf.Payload) []byte {
		body, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return append(append([]byte{wire.Version}, sender[:]...), body...)
	}
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty input":      {nil, "empty input"},
		"unknown version":  {append([]byte{9}, valid[1:]...), "unknown version 9"},
		"short header":     {valid[:20], "shorter than the 66-byte header"},
		"garbage payload":  {append(append([]byte{}, valid[:66]...), 0xff, 0xff, 0xff), "payload"},
		"zero sender":      {encode(state.PeerID{}, samplePayload()), "zero peer id"},
		"empty payload":    {encode(peer(1), &protobuf.Payload{}), "carries no acks"},
		"short ack":        {encode(peer(1), &protobuf.Payload{Acks: [][]byte{{1, 2, 3}}}), "ack 0: message id is 3 bytes"},
		"long request":     {encode(peer(1), &protobuf.Payload{Requests: [][]byte{make([]byte, 33)}}), "request 0: message id is 33 bytes"},
		"message no group": {encode(peer(1), &protobuf.Payload{Messages: []*protobuf.Message{{Body: []byte("x")}}}), "message 0: group id is 0 bytes"},
		"bad group offer":  {encode(peer(1), &protobuf.Payload{GroupOffers: []*protobuf.Offer{{GroupId: id(1), MessageIds: [][]byte{{1}}}}}), "group offer 0, id 0"},
		"oversized packet": {append([]byte{wire.Version}, make([]byte, wire.MaxPacketSize)...), "exceeds"},
	}
	for name, c := range cases {
		_, err := wire.Decode(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Decode error = %v; want it to mention %q", name, err, c.want)
		}
	}
}

func TestEncodeRefusesInvalidPackets(t *testing.T) {
	if _, err := wire.Encode(peer(1), nil); err == nil {
		t.Error("Encode(nil payload) succeeded")
	}
	if _, err := wire.Encode(peer(1), &protobuf.Payload{}); err == nil {
		t.Error("Encode(empty payload) succeeded")
	}
	if _, err := wire.Encode(peer(1), &protobuf.Payload{Messages: []*protobuf.Message{{GroupId: id(1), Body: make([]byte, wire.MaxPacketSize)}}}); err == nil {
		t.Error("Encode(oversized payload) succeeded")
	}
}

// FuzzDecodePacket checks that no input makes Decode panic and that whatever
// it accepts survives a re-encode unchanged.
func FuzzDecodePacket(f *testing.F) {
	valid, err := wire.Encode(peer(1), samplePayload())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte{wire.Version})
	f.Add(valid[:66])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := wire.Decode(in)
		if err != nil {
			return
		}
		again, err := wire.Encode(p.Sender, p.Payload)
		if err != nil {
			t.Fatalf("accepted packet does not re-encode: %v", err)
		}
		back, err := wire.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		if back.Sender != p.Sender || !proto.Equal(back.Payload, p.Payload) {
			t.Fatal("re-encode changed the packet")
		}
	})
}
