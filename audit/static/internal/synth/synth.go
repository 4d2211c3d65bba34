// Package synth writes a synthetic, status-go-shaped Go module for
// benchmarking the static audit against go vet: the status-go packages the
// audit knows (common, protobuf, protocol) plus many feature packages that
// build and send RawMessages in every way the audit resolves (direct sends,
// forwarders in other packages, callbacks, loops, conditions, helpers
// returning constants), mixed with ordinary code that sends nothing, and
// utility packages that do not import status-go at all.
//
// The output is deterministic for given options, compiles, and is meant for
// a temporary or git-ignored directory; nothing it writes belongs in the
// repository. It must not know how the audit works, only what code status-go
// developers write.
package synth

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"strings"
)

// Options size the tree.
type Options struct {
	// Packages is the number of feature packages.
	Packages int
	// FilesPerPackage is the number of files in each feature package.
	FilesPerPackage int
	// FuncsPerFile is the number of functions in each file (about 12
	// lines each).
	FuncsPerFile int
	// UtilityEvery makes every n-th feature package a utility package that
	// does not import status-go (0: none).
	UtilityEvery int
}

// Default gives a tree of a little over 200,000 lines.
func Default() Options {
	return Options{Packages: 200, FilesPerPackage: 5, FuncsPerFile: 16, UtilityEvery: 4}
}

// Stats describes a written tree.
type Stats struct {
	Packages int
	Files    int
	Lines    int
}

// Write writes the module into dir, which must be empty or absent.
func Write(dir string, o Options) (Stats, error) {
	if o.Packages <= 0 || o.FilesPerPackage <= 0 || o.FuncsPerFile <= 0 {
		return Stats{}, fmt.Errorf("synth: sizes must be positive, got %+v", o)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return Stats{}, fmt.Errorf("synth: %s is not empty", dir)
	}
	w := &writer{dir: dir}
	w.file("go.mod", "module github.com/status-im/status-go\n\ngo 1.22\n", false)
	w.file("protocol/protobuf/types.go", protobufSource, true)
	w.file("protocol/common/raw_message.go", commonSource, true)
	w.file("protocol/chat.go", protocolSource, true)
	w.file("protocol/forward/forward.go", forwardSource, true)
	for p := 0; p < o.Packages; p++ {
		utility := o.UtilityEvery > 0 && p%o.UtilityEvery == o.UtilityEvery-1
		name := fmt.Sprintf("feature%03d", p)
		for f := 0; f < o.FilesPerPackage; f++ {
			src := featureFile(name, p, f, o.FuncsPerFile, utility)
			w.file(fmt.Sprintf("protocol/%s/file%d.go", name, f), src, true)
		}
		w.stats.Packages++
	}
	return w.stats, w.err
}

type writer struct {
	dir   string
	stats Stats
	err   error
}

func (w *writer) file(rel, src string, gofmt bool) {
	if w.err != nil {
		return
	}
	data := []byte(src)
	if gofmt {
		formatted, err := format.Source(data)
		if err != nil {
			w.err = fmt.Errorf("synth: generated %s does not parse: %w", rel, err)
			return
		}
		data = formatted
	}
	path := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		w.err = fmt.Errorf("synth: %w", err)
		return
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		w.err = fmt.Errorf("synth: %w", err)
		return
	}
	w.stats.Files++
	w.stats.Lines += bytes.Count(data, []byte("\n"))
}

// messageTypes cycles through critical and non-critical message types.
var messageTypes = []string{
	"ACCEPT_CONTACT_REQUEST", "RETRACT_CONTACT_REQUEST", "CONTACT_UPDATE",
	"COMMUNITY_REQUEST_TO_JOIN", "COMMUNITY_CANCEL_REQUEST_TO_JOIN", "COMMUNITY_REQUEST_TO_JOIN_RESPONSE",
	"MEMBERSHIP_UPDATE_MESSAGE", "GROUP_CHAT_INVITATION", "EMOJI_REACTION", "PIN_MESSAGE",
	"SYNC_SETTING", "COMMUNITY_DESCRIPTION", "CHAT_MESSAGE", "EDIT_MESSAGE",
}

var resendTypes = []string{"ResendTypeDataSync", "ResendTypeRawMessage", "ResendTypeNone"}

// featureFile writes one file of a feature package: a service type, its
// send functions and its ordinary functions.
func featureFile(pkg string, p, f, funcs int, utility bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "// Package %s is generated for benchmarks.\npackage %s\n\n", pkg, pkg)
	if utility {
		b.WriteString("import (\n\t\"errors\"\n\t\"fmt\"\n\t\"sort\"\n\t\"strings\"\n)\n\n")
	} else {
		b.WriteString("import (\n\t\"context\"\n\t\"crypto/ecdsa\"\n\t\"errors\"\n\t\"fmt\"\n\t\"sort\"\n\t\"strings\"\n\n")
		b.WriteString("\t\"github.com/status-im/status-go/protocol/common\"\n")
		b.WriteString("\t\"github.com/status-im/status-go/protocol/forward\"\n")
		b.WriteString("\t\"github.com/status-im/status-go/protocol/protobuf\"\n)\n\n")
	}
	typ := fmt.Sprintf("Service%d", f)
	fmt.Fprintf(&b, "// Record%d is a row the service keeps.\ntype Record%d struct {\n\tID string\n\tName string\n\tScore int\n\tTags []string\n}\n\n", f, f)
	if utility {
		fmt.Fprintf(&b, "// %s keeps records.\ntype %s struct {\n\trecords []Record%d\n\tindex map[string]int\n}\n\n", typ, typ, f)
	} else {
		fmt.Fprintf(&b, "// %s keeps records and sends messages about them.\ntype %s struct {\n\tsender *common.MessageSender\n\tpeers map[string]*ecdsa.PublicKey\n\tchats map[string]*common.Chat\n\trecords []Record%d\n\tindex map[string]int\n}\n\n", typ, typ, f)
	}
	for i := 0; i < funcs; i++ {
		seed := p*1000 + f*100 + i
		if !utility && i%3 == 0 {
			sendFunc(&b, typ, f, i, seed)
			continue
		}
		plainFunc(&b, typ, f, i, seed)
	}
	if !utility {
		// Keep every import used whatever the mix of functions.
		fmt.Fprintf(&b, "var _ = context.Background\nvar _ = forward.ToPeer\nvar _ = protobuf.ApplicationMetadataMessage_UNKNOWN\nvar _ *ecdsa.PublicKey\n")
	}
	b.WriteString("var _ = errors.New\nvar _ = fmt.Sprint\nvar _ = sort.Ints\nvar _ = strings.Join\n")
	return b.String()
}

// sendFunc writes one function that sends a message, in one of several
// shapes status-go uses.
func sendFunc(b *strings.Builder, typ string, f, i, seed int) {
	mt := messageTypes[seed%len(messageTypes)]
	rt := resendTypes[(seed/7)%len(resendTypes)]
	name := fmt.Sprintf("Send%d", i)
	switch (seed / 3) % 6 {
	case 0: // direct SendPrivate
		fmt.Fprintf(b, `// %[2]s sends directly.
func (s *%[1]s) %[2]s(ctx context.Context, peer string, payload []byte) error {
	pk, ok := s.peers[peer]
	if !ok {
		return fmt.Errorf("unknown peer %%s", peer)
	}
	raw := common.RawMessage{
		LocalChatID: peer,
		Payload:     payload,
		MessageType: protobuf.ApplicationMetadataMessage_%[3]s,
		ResendType:  common.%[4]s,
	}
	_, err := s.sender.SendPrivate(ctx, pk, &raw)
	return err
}

`, typ, name, mt, rt)
	case 1: // forwarder in another package
		fmt.Fprintf(b, `// %[2]s goes through the forward package.
func (s *%[1]s) %[2]s(ctx context.Context, peer string, payload []byte) error {
	raw := &common.RawMessage{LocalChatID: peer, Payload: payload, MessageType: protobuf.ApplicationMetadataMessage_%[3]s}
	if err := forward.ToPeer(ctx, s.sender, s.peers[peer], raw); err != nil {
		return fmt.Errorf("forward %%s: %%w", peer, err)
	}
	return nil
}

`, typ, name, mt)
	case 2: // loop over recipients, reusing the pointer
		fmt.Fprintf(b, `// %[2]s sends to every peer.
func (s *%[1]s) %[2]s(ctx context.Context, payload []byte) error {
	raw := &common.RawMessage{Payload: payload, MessageType: protobuf.ApplicationMetadataMessage_%[3]s, ResendType: common.%[4]s}
	for id, pk := range s.peers {
		raw.LocalChatID = id
		raw.Sender = nil
		if _, err := s.sender.SendPrivate(ctx, pk, raw); err != nil {
			return err
		}
	}
	return nil
}

`, typ, name, mt, rt)
	case 3: // chat-dependent resend type
		fmt.Fprintf(b, `// %[2]s follows the chat.
func (s *%[1]s) %[2]s(ctx context.Context, chatID string, payload []byte) error {
	chat, ok := s.chats[chatID]
	if !ok {
		return errors.New("no chat")
	}
	raw := common.RawMessage{LocalChatID: chat.ID, Payload: payload, MessageType: protobuf.ApplicationMetadataMessage_%[3]s, ResendType: chat.DefaultResendType()}
	return forward.Dispatch(ctx, s.sender, chat, raw)
}

`, typ, name, mt)
	case 4: // callback
		fmt.Fprintf(b, `// %[2]s hands the message to a callback.
func (s *%[1]s) %[2]s(ctx context.Context, peer string, payload []byte) error {
	return forward.Build(ctx, peer, payload, func(ctx context.Context, raw common.RawMessage) error {
		raw.MessageType = protobuf.ApplicationMetadataMessage_%[3]s
		_, err := s.sender.SendPrivate(ctx, s.peers[peer], &raw)
		return err
	})
}

`, typ, name, mt)
	default: // condition on a runtime value
		fmt.Fprintf(b, `// %[2]s uses MVDS only when asked to.
func (s *%[1]s) %[2]s(ctx context.Context, peer string, payload []byte, reliable bool) error {
	raw := common.RawMessage{LocalChatID: peer, Payload: payload, MessageType: protobuf.ApplicationMetadataMessage_%[3]s}
	if reliable {
		raw.ResendType = common.ResendTypeDataSync
	} else {
		raw.ResendType = common.ResendTypeRawMessage
		raw.SkipEncryptionLayer = true
	}
	_, err := s.sender.SendPrivate(ctx, s.peers[peer], &raw)
	return err
}

`, typ, name, mt)
	}
}

// plainFunc writes one ordinary function: the code around the sends.
func plainFunc(b *strings.Builder, typ string, f, i, seed int) {
	name := fmt.Sprintf("Work%d", i)
	switch seed % 4 {
	case 0:
		fmt.Fprintf(b, `// %[2]s ranks records by score.
func (s *%[1]s) %[2]s(limit int) []string {
	sorted := append([]Record%[3]d(nil), s.records...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a].Score > sorted[b].Score })
	var out []string
	for _, r := range sorted {
		if len(out) == limit {
			break
		}
		out = append(out, r.Name)
	}
	return out
}

`, typ, name, f)
	case 1:
		fmt.Fprintf(b, `// %[2]s adds or updates a record.
func (s *%[1]s) %[2]s(id, name string, score int) error {
	if id == "" {
		return errors.New("empty id")
	}
	if s.index == nil {
		s.index = map[string]int{}
	}
	if i, ok := s.index[id]; ok {
		s.records[i].Name = name
		s.records[i].Score += score
		return nil
	}
	s.index[id] = len(s.records)
	s.records = append(s.records, Record%[3]d{ID: id, Name: name, Score: score})
	return nil
}

`, typ, name, f)
	case 2:
		fmt.Fprintf(b, `// %[2]s describes the records with a tag.
func (s *%[1]s) %[2]s(tag string) string {
	var parts []string
	for _, r := range s.records {
		for _, t := range r.Tags {
			if strings.EqualFold(t, tag) {
				parts = append(parts, fmt.Sprintf("%%s(%%d)", r.Name, r.Score))
			}
		}
	}
	return strings.Join(parts, ", ")
}

`, typ, name)
	default:
		fmt.Fprintf(b, `// %[2]s parses "id=score" pairs.
func (s *%[1]s) %[2]s(input string) (map[string]int, error) {
	out := map[string]int{}
	for _, field := range strings.Fields(input) {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("bad pair %%q", field)
		}
		var n int
		if _, err := fmt.Sscanf(v, "%%d", &n); err != nil {
			return nil, fmt.Errorf("pair %%q: %%w", field, err)
		}
		out[k] = n
	}
	return out, nil
}

`, typ, name)
	}
}

const protobufSource = `// Package protobuf stands in for status-go's generated enums.
package protobuf

type ApplicationMetadataMessage_Type int32

const (
	ApplicationMetadataMessage_UNKNOWN                            ApplicationMetadataMessage_Type = 0
	ApplicationMetadataMessage_CHAT_MESSAGE                       ApplicationMetadataMessage_Type = 1
	ApplicationMetadataMessage_CONTACT_UPDATE                     ApplicationMetadataMessage_Type = 2
	ApplicationMetadataMessage_MEMBERSHIP_UPDATE_MESSAGE          ApplicationMetadataMessage_Type = 3
	ApplicationMetadataMessage_EMOJI_REACTION                     ApplicationMetadataMessage_Type = 22
	ApplicationMetadataMessage_GROUP_CHAT_INVITATION              ApplicationMetadataMessage_Type = 23
	ApplicationMetadataMessage_COMMUNITY_DESCRIPTION              ApplicationMetadataMessage_Type = 25
	ApplicationMetadataMessage_COMMUNITY_REQUEST_TO_JOIN          ApplicationMetadataMessage_Type = 27
	ApplicationMetadataMessage_PIN_MESSAGE                        ApplicationMetadataMessage_Type = 28
	ApplicationMetadataMessage_EDIT_MESSAGE                       ApplicationMetadataMessage_Type = 29
	ApplicationMetadataMessage_SYNC_SETTING                       ApplicationMetadataMessage_Type = 42
	ApplicationMetadataMessage_ACCEPT_CONTACT_REQUEST             ApplicationMetadataMessage_Type = 46
	ApplicationMetadataMessage_RETRACT_CONTACT_REQUEST            ApplicationMetadataMessage_Type = 47
	ApplicationMetadataMessage_COMMUNITY_REQUEST_TO_JOIN_RESPONSE ApplicationMetadataMessage_Type = 48
	ApplicationMetadataMessage_COMMUNITY_CANCEL_REQUEST_TO_JOIN   ApplicationMetadataMessage_Type = 60
)
`

const commonSource = `// Package common stands in for status-go's protocol/common.
package common

import (
	"context"
	"crypto/ecdsa"

	"github.com/status-im/status-go/protocol/protobuf"
)

type ResendType uint8

const (
	ResendTypeNone       ResendType = 0
	ResendTypeDataSync   ResendType = 1
	ResendTypeRawMessage ResendType = 2
)

type RawMessage struct {
	LocalChatID         string
	Payload             []byte
	Sender              *ecdsa.PrivateKey
	SkipEncryptionLayer bool
	MessageType         protobuf.ApplicationMetadataMessage_Type
	ResendType          ResendType
}

// Chat is kept here so that feature packages can hold chats.
type Chat struct {
	ID       string
	ChatType int
}

func (c *Chat) DefaultResendType() ResendType {
	if c.ChatType == 1 || c.ChatType == 3 {
		return ResendTypeDataSync
	}
	return ResendTypeRawMessage
}

type MessageSender struct{ sent int }

func (s *MessageSender) SendPrivate(ctx context.Context, to *ecdsa.PublicKey, m *RawMessage) ([]byte, error) {
	s.sent++
	return nil, nil
}

func (s *MessageSender) SendPublic(ctx context.Context, chat string, m RawMessage) ([]byte, error) {
	s.sent++
	return nil, nil
}
`

const protocolSource = `// Package protocol stands in for status-go's protocol package.
package protocol

import "github.com/status-im/status-go/protocol/common"

type Messenger struct{ sender *common.MessageSender }
`

const forwardSource = `// Package forward holds send helpers the feature packages share, so that
// the audit must learn them from facts.
package forward

import (
	"context"
	"crypto/ecdsa"

	"github.com/status-im/status-go/protocol/common"
)

// ToPeer forces DataSync and sends privately.
func ToPeer(ctx context.Context, s *common.MessageSender, peer *ecdsa.PublicKey, raw *common.RawMessage) error {
	raw.ResendType = common.ResendTypeDataSync
	_, err := s.SendPrivate(ctx, peer, raw)
	return err
}

// Dispatch sends privately in direct chats and publicly otherwise.
func Dispatch(ctx context.Context, s *common.MessageSender, chat *common.Chat, raw common.RawMessage) error {
	if chat.ChatType == 1 {
		_, err := s.SendPrivate(ctx, nil, &raw)
		return err
	}
	_, err := s.SendPublic(ctx, chat.ID, raw)
	return err
}

// Build prepares a message and lets the caller send it.
func Build(ctx context.Context, peer string, payload []byte, send func(context.Context, common.RawMessage) error) error {
	return send(ctx, common.RawMessage{LocalChatID: peer, Payload: payload, ResendType: common.ResendTypeDataSync})
}
`
