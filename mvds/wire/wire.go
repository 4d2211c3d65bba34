// Package wire encodes an mvds packet (sender + payload) into bytes for
// transports that carry bytes, and decodes and validates bytes that arrive
// from the network.
//
// Decoding is the boundary between the network and the mvds node: mvds
// itself trusts every field (it silently truncates or zero-pads ids of the
// wrong length), so everything it would misread is rejected here with an
// error that says which field is wrong. The package knows nothing about
// SQLite, hooks or any particular transport.
package wire

import (
	"errors"
	"fmt"

	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/state"
	"github.com/status-im/mvds/transport"
	"google.golang.org/protobuf/proto"
)

// Version is the first byte of every encoded packet.
const Version byte = 1

// MaxPacketSize bounds what Decode accepts: a Waku message is at most 1 MiB
// in status-go's configuration, so anything larger is not a packet a real
// peer could have sent.
const MaxPacketSize = 4 << 20

const (
	idSize     = len(state.MessageID{})
	peerSize   = len(state.PeerID{})
	headerSize = 1 + peerSize
)

// ErrEmptyPayload is returned for a payload that carries nothing. mvds
// answers every packet it receives with an (empty) acks payload, so accepting
// empty payloads would make two nodes ping-pong forever.
var ErrEmptyPayload = errors.New("payload carries no acks, offers, requests or messages")

// Encode returns the wire form of a packet: the version byte, the sender's
// 65-byte peer id, then the protobuf-encoded payload.
func Encode(sender state.PeerID, payload *protobuf.Payload) ([]byte, error) {
	if payload == nil {
		return nil, errors.New("encode packet: nil payload")
	}
	if err := Validate(sender, payload); err != nil {
		return nil, fmt.Errorf("encode packet: %w", err)
	}
	body, err := proto.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode packet: marshal payload: %w", err)
	}
	if headerSize+len(body) > MaxPacketSize {
		return nil, fmt.Errorf("encode packet: %d bytes exceeds the %d-byte limit", headerSize+len(body), MaxPacketSize)
	}
	out := make([]byte, 0, headerSize+len(body))
	out = append(out, Version)
	out = append(out, sender[:]...)
	return append(out, body...), nil
}

// Decode parses and validates bytes received from the network.
func Decode(b []byte) (transport.Packet, error) {
	switch {
	case len(b) == 0:
		return transport.Packet{}, errors.New("decode packet: empty input")
	case len(b) > MaxPacketSize:
		return transport.Packet{}, fmt.Errorf("decode packet: %d bytes exceeds the %d-byte limit", len(b), MaxPacketSize)
	case b[0] != Version:
		return transport.Packet{}, fmt.Errorf("decode packet: unknown version %d (want %d)", b[0], Version)
	case len(b) < headerSize:
		return transport.Packet{}, fmt.Errorf("decode packet: %d bytes is shorter than the %d-byte header", len(b), headerSize)
	}
	var sender state.PeerID
	copy(sender[:], b[1:headerSize])
	payload := &protobuf.Payload{}
	if err := proto.Unmarshal(b[headerSize:], payload); err != nil {
		return transport.Packet{}, fmt.Errorf("decode packet: payload: %w", err)
	}
	if err := Validate(sender, payload); err != nil {
		return transport.Packet{}, fmt.Errorf("decode packet: %w", err)
	}
	return transport.Packet{Sender: sender, Payload: payload}, nil
}

// Validate checks what mvds would otherwise misread: a zero sender, ids that
// are not 32 bytes, messages without a 32-byte group id, and empty payloads.
func Validate(sender state.PeerID, p *protobuf.Payload) error {
	if p == nil {
		return errors.New("nil payload")
	}
	if sender == (state.PeerID{}) {
		return errors.New("sender is the zero peer id")
	}
	if !p.IsValid() {
		return ErrEmptyPayload
	}
	for _, list := range []struct {
		name string
		ids  [][]byte
	}{{"ack", p.Acks}, {"offer", p.Offers}, {"request", p.Requests}} {
		for i, id := range list.ids {
			if len(id) != idSize {
				return fmt.Errorf("%s %d: message id is %d bytes, want %d", list.name, i, len(id), idSize)
			}
		}
	}
	for i, m := range p.Messages {
		if m == nil {
			return fmt.Errorf("message %d: missing", i)
		}
		if len(m.GroupId) != idSize {
			return fmt.Errorf("message %d: group id is %d bytes, want %d", i, len(m.GroupId), idSize)
		}
	}
	for i, o := range p.GroupOffers {
		if o == nil || len(o.GroupId) != idSize {
			return fmt.Errorf("group offer %d: group id must be %d bytes", i, idSize)
		}
		for j, id := range o.MessageIds {
			if len(id) != idSize {
				return fmt.Errorf("group offer %d, id %d: message id is %d bytes, want %d", i, j, len(id), idSize)
			}
		}
	}
	return nil
}
