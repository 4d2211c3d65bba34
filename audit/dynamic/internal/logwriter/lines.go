package logwriter

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// MessageType stands for status-go's protobuf enum
// ApplicationMetadataMessage_Type: status-go logs it with zap.Any, which
// takes its String method, so every format shows the name.
type MessageType string

func (t MessageType) String() string { return string(t) }

// Callers as status-go's lines name them.
const (
	CallerSender      = "github.com/status-im/status-go/protocol/common/message_sender.go"
	CallerMessenger   = "github.com/status-im/status-go/protocol/messenger.go"
	CallerPeerSyncing = "github.com/status-im/status-go/protocol/messenger_peersyncing.go"
)

// Style selects how a release wrote the recipient of sendPrivate's lines.
type Style uint8

const (
	// Current: one recipient key (zap.String), since v0.182.38 (mid 2024).
	Current Style = iota
	// Early2024: the RawMessage's Recipients as a list (zap.Strings), which
	// is empty for most private sends (v0.181.31 to v0.182.37).
	Early2024
	// Legacy: MessageSender's names of before 2024-02-27 (LegacySent) with
	// the message id and one hash only, no acknowledgement lines, and
	// "connection changed" without force — as 2023's releases wrote, and
	// builds from their release branches into mid 2024.
	Legacy
)

func debug(t time.Time, caller, msg string, fields ...zap.Field) Entry {
	return Entry{Time: t, Level: zapcore.DebugLevel, Caller: caller, Message: msg, Fields: fields}
}

func privateRecipient(style Style, recipient string) zap.Field {
	if style == Early2024 {
		return zap.Strings("recipient", nil)
	}
	return zap.String("recipient", recipient)
}

// SentPrivate is sendPrivate's line for a message it encrypted and sent
// itself, without MVDS.
func SentPrivate(t time.Time, style Style, recipient, id, typ string, hashes []string) Entry {
	return debug(t, CallerSender+":544", "sent-message: private without datasync",
		privateRecipient(style, recipient),
		zap.String("messageID", id),
		zap.Any("contentType", MessageType(typ)),
		zap.String("messageType", "private"),
		zap.Strings("hashes", hashes))
}

// SentPrivateRaw is sendPrivate's line for a message sent without the
// encryption layer (SkipEncryptionLayer).
func SentPrivateRaw(t time.Time, style Style, recipient, id, typ string, hashes []string) Entry {
	return debug(t, CallerSender+":524", "sent-message: private skipProtocolLayer",
		privateRecipient(style, recipient),
		zap.String("messageID", id),
		zap.String("messageType", "private"),
		zap.Any("contentType", MessageType(typ)),
		zap.Strings("hashes", hashes))
}

// SentCommunity is sendCommunity's line.
func SentCommunity(t time.Time, recipients []string, id, typ string, hashes []string) Entry {
	return debug(t, CallerSender+":429", "sent-message: community ",
		zap.Strings("recipient", recipients),
		zap.String("messageID", id),
		zap.String("messageType", "community"),
		zap.Any("contentType", MessageType(typ)),
		zap.Strings("hashes", hashes))
}

// SentPublic is SendPublic's line.
func SentPublic(t time.Time, recipients []string, id, typ string, hashes []string) Entry {
	return debug(t, CallerSender+":805", "sent-message: public message",
		zap.Strings("recipient", recipients),
		zap.String("messageID", id),
		zap.Any("contentType", MessageType(typ)),
		zap.String("messageType", "public"),
		zap.Strings("hashes", hashes))
}

// DatasyncSent is the datasync dispatch's line for one packet to one peer.
func DatasyncSent(t time.Time, ids, hashes []string) Entry {
	return debug(t, CallerPeerSyncing+":415", "sent private messages",
		zap.Any("messageIDs", ids),
		zap.Strings("hashes", hashes))
}

// DatasyncAck is the line for a datasync acknowledgement of a message
// status-go knows (it marks the message delivered).
func DatasyncAck(t time.Time, ack, id string) Entry {
	return debug(t, CallerPeerSyncing+":42", "got datasync acknowledge for message",
		zap.String("ack", ack), zap.String("messageID", id))
}

// DatasyncAckUnknown is the line for an acknowledgement of a message status-go
// has no pending confirmation for (its own paired devices').
func DatasyncAckUnknown(t time.Time, ack string) Entry {
	e := debug(t, CallerPeerSyncing+":35", "got datasync acknowledge for message we don't have in db",
		zap.String("ack", ack))
	e.Level = zapcore.InfoLevel
	return e
}

// ConnectionChanged is the messenger's line when connectivity changes (force:
// the previous check was long ago — a sleep).
func ConnectionChanged(t time.Time, online, force bool) Entry {
	return debug(t, CallerMessenger+":1554", "connection changed", zap.Bool("online", online), zap.Bool("force", force))
}

// Legacy names MessageSender logged before 2024-02-27 (LegacySkipEncryption
// before 2023-07-04), with only the message id and the envelope hash.
const (
	LegacyPrivate        = "sent private message without datasync"
	LegacyPrivateRaw     = "sent private message skipProtocolLayer"
	LegacySkipEncryption = "sent private message skipEncryption"
	LegacyCommunity      = "sent community message "
	LegacyPublic         = "sent public message"
)

// LegacySent is a send line of 2023 under one of the legacy names.
func LegacySent(t time.Time, name, id, hash string) Entry {
	return debug(t, CallerSender+":414", name, zap.String("messageID", id), zap.String("hash", hash))
}

// LegacyDatasyncSent is the 2023 datasync dispatch line (one hash).
func LegacyDatasyncSent(t time.Time, ids []string, hash string) Entry {
	return debug(t, CallerSender+":824", "sent private messages", zap.Any("messageIDs", ids), zap.String("hash", hash))
}

// LegacyConnectionChanged is the 2023 connectivity line, without force.
func LegacyConnectionChanged(t time.Time, online bool) Entry {
	return debug(t, CallerMessenger+":1346", "connection changed", zap.Bool("online", online))
}

// Received is the messenger's line for a message it took off the wire,
// with the fields its logger carries before the line's own.
func Received(t time.Time, hash, id, typ, sender string) Entry {
	e := debug(t, CallerMessenger+":3640", "processing message",
		zap.String("site", "RetrieveAll"), zap.String("hash", hash), zap.String("message-id", id),
		zap.Any("type", MessageType(typ)), zap.String("senderID", sender))
	e.Level = zapcore.InfoLevel
	return e
}

// Hex returns "0x" and the hex of n random bytes.
func Hex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return "0x" + hex.EncodeToString(b)
}

// PubKey returns a random uncompressed public key as status-go prints it.
func PubKey(r *rand.Rand) string {
	b := make([]byte, 65)
	b[0] = 4
	for i := 1; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	return "0x" + hex.EncodeToString(b)
}

// Noise returns one of the unrelated lines that make up most of a real
// status-go log at debug level: relay traffic, peer management, storenode
// queries, envelope tracking.
func Noise(r *rand.Rand, t time.Time) Entry {
	switch r.IntN(8) {
	case 0:
		return debug(t, "github.com/waku-org/go-waku/waku/v2/protocol/relay/waku_relay.go:527", "waku.relay received",
			zap.String("pubsubTopic", "/waku/2/rs/16/32"), zap.String("hash", Hex(r, 32)),
			zap.Int64("receivedTime", t.UnixNano()), zap.Int("payloadSizeBytes", 200+r.IntN(4000)))
	case 1:
		return debug(t, "github.com/status-im/status-go/wakuv2/waku.go:1191", "received waku2 envelope",
			zap.String("envelopeHash", Hex(r, 32)), zap.String("contentTopic", fmt.Sprintf("/waku/1/0x%08x/rfc26", r.Uint32())),
			zap.Int64("timestamp", t.UnixNano()))
	case 2:
		e := debug(t, "github.com/status-im/status-go/wakuv2/waku.go:1408", "peer stats",
			zap.Int("peersCount", 4+r.IntN(20)), zap.Int("relayPeers", 2+r.IntN(10)))
		e.Level = zapcore.InfoLevel
		return e
	case 3:
		return debug(t, "github.com/status-im/status-go/protocol/messenger.go:3601", "processing messages further",
			zap.String("site", "RetrieveAll"), zap.String("hash", Hex(r, 32)), zap.Int("count", 1+r.IntN(5)))
	case 4:
		return debug(t, "github.com/status-im/status-go/protocol/transport/envelopes_monitor.go:233", "envelope sent",
			zap.String("hash", Hex(r, 32)), zap.String("messageID", Hex(r, 32)))
	case 5:
		return debug(t, "github.com/status-im/status-go/protocol/common/message_sender.go:446", "sending private message",
			zap.String("recipient", PubKey(r)))
	case 6:
		e := debug(t, "github.com/status-im/status-go/services/mailservers/storenode_cycle.go:312", "storenode query done",
			zap.String("peerID", "16Uiu2HAm"+Hex(r, 20)[2:]), zap.Duration("took", time.Duration(r.IntN(3000))*time.Millisecond))
		e.Level = zapcore.InfoLevel
		return e
	default:
		e := debug(t, "github.com/waku-org/go-waku/waku/v2/peermanager/peer_manager.go:400", "connecting to peer",
			zap.String("peerID", "16Uiu2HAm"+Hex(r, 20)[2:]), zap.Strings("addrs", []string{fmt.Sprintf("/ip4/10.0.%d.%d/tcp/30303", r.IntN(255), r.IntN(255))}))
		e.Level = zapcore.WarnLevel
		return e
	}
}
