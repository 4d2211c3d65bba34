package wakutransport

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/status-im/mvds/state"
	"github.com/status-im/mvds/transport"

	"github.com/mvdsguard/mvdsguard/mvds/wire"
)

// The envelope is what a Waku message's payload holds:
//
//	byte 0        envelope version (1)
//	bytes 1..65   secp256k1 signature [R || S || V] of the digest below
//	bytes 66..    the mvds packet in mvds/wire form (version, 65-byte sender, payload)
//
// The digest is keccak256(envelopeDomain || recipient || packet). Binding the
// recipient means a packet signed for one peer cannot be replayed onto
// another peer's topic; binding the sender (inside the packet) to the key that
// signed means a node can only ever speak as itself.
const (
	envelopeVersion byte = 1
	signatureSize        = 65
	envelopeHeader       = 1 + signatureSize
)

var envelopeDomain = []byte("mvdsguard/wakutransport/envelope/1")

// Errors that Open reports for packets it rejects.
var (
	// ErrBadSignature: the packet was not signed by the sender it names — a
	// forgery, or bytes damaged in transit.
	ErrBadSignature = errors.New("signature does not match the packet's sender")
	// ErrMalformed: the bytes are not an envelope this version understands.
	ErrMalformed = errors.New("malformed envelope")
)

// PeerIDOf returns the mvds peer id of a key: its 65-byte uncompressed
// secp256k1 public key, as status-go uses.
func PeerIDOf(key *ecdsa.PrivateKey) state.PeerID {
	var id state.PeerID
	copy(id[:], crypto.FromECDSAPub(&key.PublicKey))
	return id
}

// ContentTopic is the Waku content topic on which peer receives its packets:
// one per recipient, derived from its public key.
func ContentTopic(peer state.PeerID) string {
	sum := sha256.Sum256(peer[:])
	return "/mvdsguard/1/dm-" + hex.EncodeToString(sum[:16]) + "/proto"
}

func digest(recipient state.PeerID, packet []byte) []byte {
	return crypto.Keccak256(envelopeDomain, recipient[:], packet)
}

// Seal signs a packet in wire form for recipient with key, which must be the
// key of the packet's sender.
func Seal(key *ecdsa.PrivateKey, recipient state.PeerID, packet []byte) ([]byte, error) {
	if len(packet) < 1+len(state.PeerID{}) {
		return nil, fmt.Errorf("seal: %d-byte packet is shorter than its header", len(packet))
	}
	sig, err := crypto.Sign(digest(recipient, packet), key)
	if err != nil {
		return nil, fmt.Errorf("seal: sign: %w", err)
	}
	out := make([]byte, 0, envelopeHeader+len(packet))
	out = append(out, envelopeVersion)
	out = append(out, sig...)
	return append(out, packet...), nil
}

// Open verifies an envelope addressed to self and decodes the packet it
// carries. It rejects, naming the reason, anything malformed, any packet
// whose signature was not made by the sender the packet names, and anything
// mvds/wire rejects.
func Open(self state.PeerID, b []byte) (transport.Packet, error) {
	switch {
	case len(b) == 0:
		return transport.Packet{}, fmt.Errorf("open envelope: %w: empty", ErrMalformed)
	case b[0] != envelopeVersion:
		return transport.Packet{}, fmt.Errorf("open envelope: %w: unknown version %d (want %d)", ErrMalformed, b[0], envelopeVersion)
	case len(b) < envelopeHeader+1+len(state.PeerID{}):
		return transport.Packet{}, fmt.Errorf("open envelope: %w: %d bytes is shorter than the headers", ErrMalformed, len(b))
	}
	sig, packet := b[1:envelopeHeader], b[envelopeHeader:]
	if v := sig[signatureSize-1]; v > 1 {
		return transport.Packet{}, fmt.Errorf("open envelope: %w: recovery id %d", ErrBadSignature, v)
	}
	signer, err := crypto.Ecrecover(digest(self, packet), sig)
	if err != nil {
		return transport.Packet{}, fmt.Errorf("open envelope: %w: %v", ErrBadSignature, err)
	}
	claimed := packet[1 : 1+len(state.PeerID{})]
	if !bytes.Equal(signer, claimed) {
		return transport.Packet{}, fmt.Errorf("open envelope: %w: signed by %x…, claims %x…", ErrBadSignature, signer[1:5], claimed[1:5])
	}
	p, err := wire.Decode(packet)
	if err != nil {
		return transport.Packet{}, fmt.Errorf("open envelope: %w", err)
	}
	return p, nil
}
