package mvds

import (
	"encoding/hex"

	"github.com/status-im/mvds/node"
	"github.com/status-im/mvds/state"
)

// The identifiers and records of mvds itself, re-exported so that callers
// need not import mvds's packages for the common cases.
type (
	// PeerID identifies a node: status-go uses the 65-byte uncompressed
	// secp256k1 public key.
	PeerID = state.PeerID
	// GroupID identifies an mvds group (status-go: one per 1:1 pair).
	GroupID = state.GroupID
	// MessageID is the sha256 mvds derives from group, timestamp and body.
	MessageID = state.MessageID
	// State is one (message, peer) record of mvds's sync state.
	State = state.State
	// RecordType is what a State sends: an offer, a request or the message.
	RecordType = state.RecordType
	// Mode is mvds's synchronisation mode.
	Mode = node.Mode
)

const (
	// Batch sends messages directly (status-go's mode).
	Batch = node.BATCH
	// Interactive offers message ids first and sends on request.
	Interactive = node.INTERACTIVE

	// Offer, Request and Message are the RecordTypes of mvds.
	Offer   = state.OFFER
	Request = state.REQUEST
	Message = state.MESSAGE
)

// MaxSendCount is the limit mvds passes to SyncState.Clear every epoch: a
// state sent more often than this is deleted (stock) or reported to the Hook.
const MaxSendCount = node.MaxSendCount

// ShortID renders the first bytes of an id for logs, as mvds does.
func ShortID(b []byte) string {
	if len(b) > 4 {
		b = b[:4]
	}
	return hex.EncodeToString(b)
}
