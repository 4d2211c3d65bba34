package sgnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Node is one logged-in status-go user behind a status-backend: its API
// client and its signal stream.
type Node struct {
	*Client
	Signals *Signals
	Account Account
}

// Account is who a node is logged in as.
type Account struct {
	KeyUID    string `json:"keyUid"`
	PublicKey string `json:"publicKey"` // "0x04…": the user's chat key, the id of their 1:1 chat
	Name      string `json:"name"`
}

// Connect opens the signal stream of the status-backend at addr: the
// first thing to do, since status-go sends signals only to connections
// open at the time.
func Connect(ctx context.Context, name, addr string, rec *Recorder, opts ...Option) (*Node, error) {
	c := NewClient(name, addr, rec, opts...)
	sig, err := DialSignals(ctx, name, c.Addr(), rec, opts...)
	if err != nil {
		return nil, err
	}
	return &Node{Client: c, Signals: sig}, nil
}

// Close stops the signal stream.
func (n *Node) Close() { n.Signals.Stop() }

// Profile is how a node's account is created: Waku v2 on this machine only.
type Profile struct {
	DataDir     string // absolute
	DisplayName string
	Password    string
	// Fleet is the fleet status-go's configuration starts from. Its
	// bootstrap entries are DNS trees (enrtree://), which Nameserver
	// resolves: 127.0.0.1, where nothing answers, keeps every node to the
	// peers it is given.
	Fleet      string
	Nameserver string
	Light      bool
	// KdfIterations derives the database key; status-go's default is
	// 256000, which costs seconds per login.
	KdfIterations int
}

// LocalProfile is the profile the QA runner uses for a node: loopback
// only, no fleet reachable.
func LocalProfile(dataDir, name string) Profile {
	return Profile{DataDir: dataDir, DisplayName: displayName(name), Password: "mvdsqa-" + name,
		Fleet: "waku.test", Nameserver: "127.0.0.1", KdfIterations: 3200}
}

// CreateAccount initializes status-go on the profile's data directory,
// creates an account, logs in, and starts the messenger.
func (n *Node) CreateAccount(ctx context.Context, p Profile) error {
	if err := os.MkdirAll(p.DataDir, 0o700); err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	if _, err := n.Call(ctx, "InitializeApplication", map[string]any{"dataDir": p.DataDir}); err != nil {
		return err
	}
	seq := n.Signals.Last()
	req := map[string]any{
		"rootDataDir": p.DataDir, "kdfIterations": p.KdfIterations, "displayName": p.DisplayName,
		"password": p.Password, "customizationColor": "primary",
		"wakuV2Fleet": p.Fleet, "wakuV2LightClient": p.Light, "logEnabled": true,
		"logFilePath": p.DataDir, "logLevel": "INFO",
	}
	if p.Nameserver != "" {
		req["wakuV2Nameserver"] = p.Nameserver
	}
	if _, err := n.Call(ctx, "CreateAccountAndLogin", req); err != nil {
		return err
	}
	return n.afterLogin(ctx, seq)
}

// Login logs in again, after a restart, as the account the profile created.
func (n *Node) Login(ctx context.Context, p Profile, keyUID string) error {
	if _, err := n.Call(ctx, "InitializeApplication", map[string]any{"dataDir": p.DataDir}); err != nil {
		return err
	}
	seq := n.Signals.Last()
	req := map[string]any{"password": p.Password, "keyUid": keyUID, "kdfIterations": p.KdfIterations}
	if p.Nameserver != "" {
		req["wakuV2Nameserver"] = p.Nameserver
	}
	if _, err := n.Call(ctx, "LoginAccount", req); err != nil {
		return err
	}
	return n.afterLogin(ctx, seq)
}

// afterLogin waits for node.login, takes the account from it, and starts
// the messenger.
func (n *Node) afterLogin(ctx context.Context, seq int) error {
	sig, err := n.Signals.Wait(ctx, seq, func(s Signal) bool { return s.Type == SignalLogin })
	if err != nil {
		return fmt.Errorf("node %s: login: %w", n.name, err)
	}
	var ev struct {
		Error    string `json:"error"`
		Settings struct {
			PublicKey string `json:"public-key"`
			KeyUID    string `json:"key-uid"`
			Name      string `json:"display-name"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(sig.Event, &ev); err != nil {
		return fmt.Errorf("node %s: login: node.login event: %w", n.name, err)
	}
	if ev.Error != "" {
		return &CallError{Node: n.name, What: "login (node.login)", Msg: ev.Error}
	}
	if ev.Settings.PublicKey == "" {
		return fmt.Errorf("node %s: login: node.login carries no public key", n.name)
	}
	n.Account = Account{KeyUID: ev.Settings.KeyUID, PublicKey: ev.Settings.PublicKey, Name: ev.Settings.Name}
	if err := n.RPC(ctx, "wakuext_startMessenger", nil); err != nil {
		var ce *CallError
		if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "already started") {
			return fmt.Errorf("node %s: start messenger: %w", n.name, err)
		}
	}
	return nil
}

// Message is a message in a MessengerResponse, as far as QA needs it.
type Message struct {
	ID             string `json:"id"`
	ChatID         string `json:"chatId"`
	From           string `json:"from"`
	Text           string `json:"text"`
	ContentType    int    `json:"contentType"`
	OutgoingStatus string `json:"outgoingStatus"`
}

// Chat is a chat in a MessengerResponse.
type Chat struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	ChatType int    `json:"chatType"`
}

// Response is status-go's MessengerResponse, the parts QA reads.
type Response struct {
	Messages []Message `json:"messages"`
	Chats    []Chat    `json:"chats"`
}

// ContentContactRequest is protobuf.ChatMessage_CONTACT_REQUEST.
const ContentContactRequest = 11

// sent returns the message a send produced: the one of content type want
// (0: the first).
func (n *Node) sent(what string, r Response, want int) (Message, error) {
	for _, m := range r.Messages {
		if want == 0 || m.ContentType == want {
			return m, nil
		}
	}
	return Message{}, fmt.Errorf("node %s: %s: the answer holds no message%s", n.name, what, map[bool]string{true: fmt.Sprintf(" of content type %d", want), false: ""}[want != 0])
}

// SendContactRequest sends a contact request with text to the user with
// public key to, and returns the request message.
func (n *Node) SendContactRequest(ctx context.Context, to, text string) (Message, error) {
	var r Response
	if err := n.RPC(ctx, "wakuext_sendContactRequest", &r, map[string]string{"id": to, "message": text}); err != nil {
		return Message{}, err
	}
	return n.sent("wakuext_sendContactRequest", r, ContentContactRequest)
}

// AcceptContactRequest accepts the contact request message id.
func (n *Node) AcceptContactRequest(ctx context.Context, id string) error {
	return n.RPC(ctx, "wakuext_acceptContactRequest", nil, map[string]string{"id": id})
}

// SendOneToOne sends text in the 1:1 chat with the user with public key to.
func (n *Node) SendOneToOne(ctx context.Context, to, text string) (Message, error) {
	var r Response
	if err := n.RPC(ctx, "wakuext_sendOneToOneMessage", &r, map[string]string{"id": to, "message": text}); err != nil {
		return Message{}, err
	}
	return n.sent("wakuext_sendOneToOneMessage", r, 0)
}

// SendChatMessage sends text in chat chatID (a private group's id, or a
// user's public key for their 1:1 chat).
func (n *Node) SendChatMessage(ctx context.Context, chatID, text string) (Message, error) {
	var r Response
	msg := map[string]any{"chatId": chatID, "text": text, "contentType": 1}
	if err := n.RPC(ctx, "wakuext_sendChatMessage", &r, msg); err != nil {
		return Message{}, err
	}
	return n.sent("wakuext_sendChatMessage", r, 0)
}

// CreateGroup creates a private group chat with the users with the given
// public keys and returns its id.
func (n *Node) CreateGroup(ctx context.Context, name string, members []string) (string, error) {
	var r Response
	if err := n.RPC(ctx, "wakuext_createGroupChatWithMembers", &r, nil, name, members); err != nil {
		return "", err
	}
	for _, c := range r.Chats {
		if c.Name == name {
			return c.ID, nil
		}
	}
	if len(r.Chats) == 1 {
		return r.Chats[0].ID, nil
	}
	return "", fmt.Errorf("node %s: wakuext_createGroupChatWithMembers: the answer holds no chat %q", n.name, name)
}

// ConfirmJoiningGroup joins the private group chatID this user was added to.
func (n *Node) ConfirmJoiningGroup(ctx context.Context, chatID string) error {
	return n.RPC(ctx, "wakuext_confirmJoiningGroup", nil, chatID)
}

// MessageByID returns a message from this user's database.
func (n *Node) MessageByID(ctx context.Context, id string) (Message, error) {
	var m Message
	err := n.RPC(ctx, "wakuext_messageByMessageID", &m, id)
	return m, err
}

// ListenAddresses returns the multiaddrs this node's Waku listens on.
func (n *Node) ListenAddresses(ctx context.Context) ([]string, error) {
	var out []string
	err := n.RPC(ctx, "wakuext_listenAddresses", &out)
	return out, err
}

// Peers returns the ids of the Waku peers this node is connected to.
func (n *Node) Peers(ctx context.Context) ([]string, error) {
	var stats map[string]json.RawMessage
	if err := n.RPC(ctx, "wakuext_peers", &stats); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(stats))
	for id := range stats {
		out = append(out, id)
	}
	return out, nil
}

// DialPeer connects to the Waku node at multiaddr addr (with its /p2p/ id).
func (n *Node) DialPeer(ctx context.Context, addr string) error {
	return n.RPC(ctx, "wakuext_dialPeer", nil, addr)
}

// DropPeer disconnects the Waku peer with id peer.
func (n *Node) DropPeer(ctx context.Context, peer string) error {
	return n.RPC(ctx, "wakuext_dropPeer", nil, peer)
}

// ConnectionChange tells status-go the device's network changed: "wifi"
// (online) or "none" (offline). Status-backend at status-go c72f49132 does
// not serve it (two arguments): the error wraps ErrUnsupported.
func (n *Node) ConnectionChange(ctx context.Context, online bool) error {
	typ := "none"
	if online {
		typ = "wifi"
	}
	_, err := n.Call(ctx, "ConnectionChange", map[string]any{"type": typ, "expensive": false})
	return err
}

// displayName makes a node name a display name status-go accepts: 5 to 24
// letters, digits, '_' or '-'.
func displayName(name string) string {
	b := []byte("qa-")
	for _, c := range []byte(name) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	for len(b) < 5 {
		b = append(b, '_')
	}
	if len(b) > 24 {
		b = b[:24]
	}
	return string(b)
}
