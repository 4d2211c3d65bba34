package qanode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mvdsguard/mvdsguard"
)

// Client talks to a QA node's REST API, wherever the node runs.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the API at base ("http://127.0.0.1:8080").
func NewClient(base, token string) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.IdleConnTimeout = 30 * time.Second
	return &Client{base: base, token: token, http: &http.Client{Timeout: 15 * time.Second, Transport: tr}}
}

// NewClientDialer is NewClient for an API reached through dial — a node
// in a network namespace, whose API listens on that namespace's loopback.
func NewClientDialer(base, token string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Client {
	c := NewClient(base, token)
	c.http.Transport.(*http.Transport).DialContext = dial
	return c
}

// Base returns the API's base URL.
func (c *Client) Base() string { return c.base }

// StatusError is an answer other than 2xx.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Msg) }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = string(b)
		}
		return &StatusError{Code: resp.StatusCode, Msg: e.Error}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: answer: %w", method, path, err)
		}
	}
	return nil
}

// Health returns the node's description.
func (c *Client) Health(ctx context.Context) (Info, error) {
	var i Info
	return i, c.do(ctx, "GET", "/v1/health", nil, &i)
}

// Connect dials a peer and keeps it connected.
func (c *Client) Connect(ctx context.Context, addr string) error {
	return c.do(ctx, "POST", "/v1/peers", PeerRequest{Addr: addr}, nil)
}

// Disconnect drops a peer (libp2p id or multiaddr).
func (c *Client) Disconnect(ctx context.Context, peer string) error {
	return c.do(ctx, "DELETE", "/v1/peers/"+url.PathEscape(peer), nil, nil)
}

// CreateGroup records a group.
func (c *Client) CreateGroup(ctx context.Context, g GroupRequest) (Group, error) {
	var out Group
	return out, c.do(ctx, "POST", "/v1/groups", g, &out)
}

// Send sends a message.
func (c *Client) Send(ctx context.Context, m SendRequest) (Message, error) {
	var out Message
	return out, c.do(ctx, "POST", "/v1/messages", m, &out)
}

// Message returns one message's status.
func (c *Client) Message(ctx context.Context, id string) (Message, error) {
	var out Message
	return out, c.do(ctx, "GET", "/v1/messages/"+url.PathEscape(id), nil, &out)
}

// Messages lists every sent message.
func (c *Client) Messages(ctx context.Context) ([]Message, error) {
	var out []Message
	return out, c.do(ctx, "GET", "/v1/messages", nil, &out)
}

// Retry retries a message.
func (c *Client) Retry(ctx context.Context, id string) (Message, error) {
	var out Message
	return out, c.do(ctx, "POST", "/v1/messages/"+url.PathEscape(id)+"/retry", nil, &out)
}

// Discard discards a message.
func (c *Client) Discard(ctx context.Context, id string) (Message, error) {
	var out Message
	return out, c.do(ctx, "POST", "/v1/messages/"+url.PathEscape(id)+"/discard", nil, &out)
}

// Received lists received messages after seq.
func (c *Client) Received(ctx context.Context, after int64) ([]Received, error) {
	var out []Received
	return out, c.do(ctx, "GET", "/v1/received?after="+strconv.FormatInt(after, 10), nil, &out)
}

// Events lists events after seq.
func (c *Client) Events(ctx context.Context, after uint64) ([]mvdsguard.Event, error) {
	var out []mvdsguard.Event
	return out, c.do(ctx, "GET", "/v1/events?after="+strconv.FormatUint(after, 10), nil, &out)
}

// SetOnline takes the node offline or brings it back.
func (c *Client) SetOnline(ctx context.Context, online bool) error {
	return c.do(ctx, "PUT", "/v1/network", NetworkRequest{Online: &online}, nil)
}

// SetFaults replaces the node's injected faults.
func (c *Client) SetFaults(ctx context.Context, f Faults) error {
	return c.do(ctx, "PUT", "/v1/faults", f, nil)
}

// Faults returns the node's injected faults.
func (c *Client) Faults(ctx context.Context) (Faults, error) {
	var out Faults
	return out, c.do(ctx, "GET", "/v1/faults", nil, &out)
}

// JumpClock moves the node's wall clock forward.
func (c *Client) JumpClock(ctx context.Context, by time.Duration) (ClockState, error) {
	var out ClockState
	return out, c.do(ctx, "POST", "/v1/clock/jump", ClockRequest{By: Duration(by)}, &out)
}

// Stats returns the node's counters.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var out Stats
	return out, c.do(ctx, "GET", "/v1/stats", nil, &out)
}
