package sgnode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Client calls one status-backend's API. It is safe for concurrent use.
type Client struct {
	name string // the node's name, for errors
	base string // http://host:port
	http *http.Client
	rec  *Recorder
	id   atomic.Int64
}

// NewClient returns a client for the status-backend at addr ("host:port" or
// "http://host:port"); name is the node's name in errors; rec, if not nil,
// records every exchange.
func NewClient(name, addr string, rec *Recorder, opts ...Option) *Client {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	base = strings.TrimRight(base, "/")
	// Logging in derives keys and starts a node: minutes on a busy machine.
	hc := &http.Client{Timeout: 3 * time.Minute}
	if o.dial != nil {
		hc.Transport = &http.Transport{DialContext: o.dial}
	}
	return &Client{name: name, base: base, rec: rec, http: hc}
}

// An Option changes how a node is started or reached.
type Option func(*options)

type options struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	wrap func(argv ...string) []string
}

// Via reaches the node's API and signal stream through dial: a node in a
// network namespace of its own, whose loopback only a dialer in that
// namespace reaches.
func Via(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(o *options) { o.dial = dial }
}

// Wrapped starts the process through wrap, which returns the command line
// to run for the given one (such as `ip netns exec NS ...`).
func Wrapped(wrap func(argv ...string) []string) Option {
	return func(o *options) { o.wrap = wrap }
}

// Name is the node's name.
func (c *Client) Name() string { return c.name }

// Addr is the status-backend's base URL.
func (c *Client) Addr() string { return c.base }

// ErrUnsupported is status-backend answering 501 Not Implemented: the
// function exists in status-go but this status-backend does not serve it
// over HTTP (functions with more than one argument, before their V2).
var ErrUnsupported = errors.New("status-backend does not serve this function over HTTP (501)")

// CallError is a call that reached status-go and failed there: the error
// status-go put in its answer.
type CallError struct {
	Node, What, Msg string
	Code            int // JSON-RPC error code, 0 for an API call
}

func (e *CallError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("node %s: %s: status-go error %d: %s", e.Node, e.What, e.Code, e.Msg)
	}
	return fmt.Sprintf("node %s: %s: status-go error: %s", e.Node, e.What, e.Msg)
}

// post sends body to path and returns the answer's body.
func (c *Client) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: %w", c.name, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: %w", c.name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	e := Entry{Kind: EntryCall, Path: path, Status: resp.StatusCode}
	e.Request, _ = rawOrText(body)
	e.Response, e.Text = rawOrText(b)
	c.rec.add(e)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: read answer: %w", c.name, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotImplemented:
		return nil, fmt.Errorf("node %s: %s: %w", c.name, path, ErrUnsupported)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("node %s: %s: HTTP 404: no such function: is %s a status-backend of this version?", c.name, path, c.base)
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("node %s: %s: HTTP %d: %s", c.name, path, resp.StatusCode, clip(b))
	}
	return b, nil
}

// Call calls status-go's function fn (a public function of its mobile
// package) with req as its JSON argument (nil: no argument) and returns
// the answer. An answer {"error": "…"} with a non-empty error is a
// *CallError.
func (c *Client) Call(ctx context.Context, fn string, req any) (json.RawMessage, error) {
	var body []byte
	if req != nil {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return nil, fmt.Errorf("node %s: %s: %w", c.name, fn, err)
		}
	}
	b, err := c.post(ctx, "/statusgo/"+fn, body)
	if err != nil {
		return nil, err
	}
	var e struct {
		Error *string `json:"error"`
	}
	if len(bytes.TrimSpace(b)) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("node %s: %s: answer is not JSON: %v: %s", c.name, fn, err, clip(b))
		}
		if e.Error != nil && *e.Error != "" {
			return nil, &CallError{Node: c.name, What: fn, Msg: *e.Error}
		}
	}
	return b, nil
}

// RPC calls a JSON-RPC method ("wakuext_sendContactRequest") through
// CallRPC and decodes its result into out (nil: ignore it).
func (c *Client) RPC(ctx context.Context, method string, out any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	id := c.id.Add(1)
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("node %s: %s: %w", c.name, method, err)
	}
	b, err := c.post(ctx, "/statusgo/CallRPC", body)
	if err != nil {
		return fmt.Errorf("%w (calling %s)", err, method)
	}
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("node %s: %s: answer is not JSON-RPC: %v: %s", c.name, method, err, clip(b))
	}
	if resp.Error != nil {
		return &CallError{Node: c.name, What: method, Code: resp.Error.Code, Msg: resp.Error.Message}
	}
	if out != nil {
		if len(resp.Result) == 0 {
			return fmt.Errorf("node %s: %s: answer has no result: %s", c.name, method, clip(b))
		}
		if err := json.Unmarshal(resp.Result, out); err != nil {
			return fmt.Errorf("node %s: %s: result: %w", c.name, method, err)
		}
	}
	return nil
}

// clip shortens an answer quoted in an error.
func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
