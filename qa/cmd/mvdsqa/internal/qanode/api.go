package qanode

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/signals"
)

// maxBody bounds a request body: a message's payload plus its envelope.
const maxBody = MaxPayload + 16<<10

// listLimit is the most a list endpoint returns at once.
const listLimit = 1000

// keepAlive is how often an idle event stream sends a comment, so that
// proxies and clients see the connection alive.
const keepAlive = 15 * time.Second

type apiServer struct {
	node   *Node
	token  string
	addr   string
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}
	served chan struct{}
}

func serveAPI(n *Node, addr, token string) (*apiServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("REST API on %s: %w", addr, err)
	}
	a := &apiServer{node: n, token: token, addr: ln.Addr().String(), ln: ln, done: make(chan struct{}), served: make(chan struct{})}
	// The idle timeout is longer than any client's (Client keeps idle
	// connections 30 s): a server that closes an idle connection just as the
	// client reuses it makes a request fail with a reset.
	a.srv = &http.Server{Handler: withUI(a.routes()), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: zap.NewStdLog(n.logger.Named("http"))}
	go func() {
		defer close(a.served)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.logger.Error("REST API stopped", zap.Error(err))
		}
	}()
	return a, nil
}

func (a *apiServer) close() error {
	close(a.done) // ends event streams
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.srv.Shutdown(ctx)
	<-a.served
	return err
}

func (a *apiServer) routes() http.Handler {
	mux := http.NewServeMux()
	n := a.node
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, n.Info()) })
	mux.HandleFunc("GET /v1/peers", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, n.tr.Peers()) })
	mux.HandleFunc("POST /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		var req PeerRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Addr == "" {
			fail(w, badRequest("addr: missing"))
			return
		}
		if err := n.Connect(r.Context(), req.Addr); err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, n.tr.Peers())
	})
	mux.HandleFunc("DELETE /v1/peers/{peer}", func(w http.ResponseWriter, r *http.Request) {
		if err := n.Disconnect(r.PathValue("peer")); err != nil {
			fail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /v1/groups", func(w http.ResponseWriter, r *http.Request) {
		var req GroupRequest
		if !decode(w, r, &req) {
			return
		}
		g, err := n.CreateGroup(r.Context(), req)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 201, g)
	})
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		var req SendRequest
		if !decode(w, r, &req) {
			return
		}
		m, err := n.Send(r.Context(), req)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 201, m)
	})
	mux.HandleFunc("GET /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		ms, err := n.Messages(r.Context(), r.URL.Query().Get("status"))
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, ms)
	})
	mux.HandleFunc("GET /v1/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		m, err := n.Message(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, m)
	})
	mux.HandleFunc("POST /v1/messages/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
		m, err := n.Retry(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, m)
	})
	mux.HandleFunc("POST /v1/messages/{id}/discard", func(w http.ResponseWriter, r *http.Request) {
		m, err := n.Discard(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, m)
	})
	mux.HandleFunc("GET /v1/received", func(w http.ResponseWriter, r *http.Request) {
		after, limit, ok := cursor(w, r)
		if !ok {
			return
		}
		rs, err := n.Received(r.Context(), after, limit)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, rs)
	})
	mux.HandleFunc("GET /v1/events", a.events)
	mux.HandleFunc("GET /v1/signals", a.signalStream)
	mux.HandleFunc("GET /v1/network", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]bool{"online": n.tr.Connectivity().Online(), "offline": n.tr.Offline()})
	})
	mux.HandleFunc("PUT /v1/network", func(w http.ResponseWriter, r *http.Request) {
		var req NetworkRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Online == nil {
			fail(w, badRequest("online: missing (true or false)"))
			return
		}
		if err := n.SetOnline(r.Context(), *req.Online); err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, map[string]bool{"online": n.tr.Connectivity().Online(), "offline": n.tr.Offline()})
	})
	mux.HandleFunc("GET /v1/faults", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, n.Faults()) })
	mux.HandleFunc("PUT /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		var req Faults
		if !decode(w, r, &req) {
			return
		}
		if err := n.SetFaults(req); err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, n.Faults())
	})
	mux.HandleFunc("POST /v1/clock/jump", func(w http.ResponseWriter, r *http.Request) {
		var req ClockRequest
		if !decode(w, r, &req) {
			return
		}
		st, err := n.JumpClock(time.Duration(req.By))
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, st)
	})
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, n.Stats()) })
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	return a.authorize(jsonMisses(mux))
}

// jsonMisses answers requests no route matches (404, or 405 with Allow) in
// JSON like every other error, instead of the mux's plain text.
func jsonMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		if probe.status == http.StatusMethodNotAllowed {
			fail(w, &apiError{405, fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, probe.header.Get("Allow"))})
			return
		}
		fail(w, notFound("no endpoint %s %s; see docs/qa.md", r.Method, r.URL.Path))
	})
}

// statusProbe records what a handler would answer, and nothing else.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = 200
	}
	return len(b), nil
}
func (p *statusProbe) WriteHeader(status int) { p.status = status }

// authorize requires the bearer token on every request when one is set.
func (a *apiServer) authorize(next http.Handler) http.Handler {
	if a.token == "" {
		return next
	}
	want := []byte("Bearer " + a.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mvdsqa"`)
			fail(w, &apiError{401, "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// events answers with a JSON list, or, to a client that accepts
// text/event-stream, with a Server-Sent Events stream that resumes after
// the given sequence number (the after parameter or Last-Event-ID).
func (a *apiServer) events(w http.ResponseWriter, r *http.Request) {
	n := a.node
	after, limit, ok := cursor(w, r)
	if !ok {
		return
	}
	if !wantsStream(r) {
		evs, err := n.Events(r.Context(), uint64(after), limit)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, evs)
		return
	}
	a.stream(w, r, after, "events", func(ctx context.Context, after uint64) (<-chan sseEvent, error) {
		if n.guard == nil {
			return nil, nil
		}
		sub, err := n.guard.Subscribe(after)
		if err != nil {
			return nil, err
		}
		ch := make(chan sseEvent)
		go func() {
			defer close(ch)
			defer sub.Close()
			ok := true
			for {
				var e mvdsguard.Event
				select {
				case e, ok = <-sub.Events():
					if !ok {
						return
					}
				case <-ctx.Done():
					return
				}
				b, err := json.Marshal(e)
				if err != nil {
					continue
				}
				select {
				case ch <- sseEvent{e.Seq, e.Type.String(), b}:
				case <-ctx.Done():
					return
				}
			}
		}()
		return ch, nil
	})
}

// signalStream answers like events, with the signals the Guard's events
// give a GUI (package signals): status-go's legacy ones next to the
// mvds.message.* ones. Each carries the seq of the event it came from; a
// client resumes after the last seq it handled.
func (a *apiServer) signalStream(w http.ResponseWriter, r *http.Request) {
	n := a.node
	after, limit, ok := cursor(w, r)
	if !ok {
		return
	}
	if !wantsStream(r) {
		ss, err := n.Signals(r.Context(), uint64(after), limit)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, ss)
		return
	}
	a.stream(w, r, after, "signals", func(ctx context.Context, after uint64) (<-chan sseEvent, error) {
		if n.guard == nil {
			return nil, nil
		}
		ch := make(chan sseEvent)
		go func() {
			defer close(ch)
			err := signals.Forward(ctx, n.guard, after, func(s signals.Signal) error {
				b, err := json.Marshal(s)
				if err != nil {
					return err
				}
				select {
				case ch <- sseEvent{s.Seq, s.Type, b}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if err != nil && ctx.Err() == nil {
				n.logger.Warn("signal stream ended", zap.Error(err))
			}
		}()
		return ch, nil
	})
}

func wantsStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// stream writes a Server-Sent Events stream of what open yields after the
// cursor (Last-Event-ID wins over the after parameter), with keep-alive
// comments, until the client leaves or the node stops. A nil channel (a
// stock node) keeps the stream open and empty.
func (a *apiServer) stream(w http.ResponseWriter, r *http.Request, after int64, what string,
	open func(ctx context.Context, after uint64) (<-chan sseEvent, error)) {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		v, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			fail(w, badRequest("Last-Event-ID: %q is not a sequence number", short(id)))
			return
		}
		after = int64(v)
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		fail(w, &apiError{500, "streaming unsupported"})
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	events, err := open(ctx, uint64(after))
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	fmt.Fprintf(w, ": mvdsqa %s after %d\n\n", what, after)
	flusher.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.done:
			return
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case e, ok := <-events:
			if !ok {
				return
			}
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.seq, e.typ, e.data)
		}
		flusher.Flush()
	}
}

type sseEvent struct {
	seq  uint64
	typ  string
	data []byte
}

func cursor(w http.ResponseWriter, r *http.Request) (after int64, limit int, ok bool) {
	q := r.URL.Query()
	limit = listLimit
	if s := q.Get("after"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			fail(w, badRequest("after: %q is not a sequence number", short(s)))
			return 0, 0, false
		}
		after = v
	}
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > listLimit {
			fail(w, badRequest("limit: %q must be a number from 1 to %d", short(s), listLimit))
			return 0, 0, false
		}
		limit = v
	}
	return after, limit, true
}

// decode reads a JSON body strictly: unknown fields, trailing data and
// bodies over maxBody are refused with the reason.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		fail(w, &apiError{415, fmt.Sprintf("body: Content-Type %q; send application/json", short(ct))})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		fail(w, &apiError{413, fmt.Sprintf("body: larger than %d bytes (payloads are limited to %d)", maxBody, MaxPayload)})
	case errors.Is(err, io.EOF):
		fail(w, badRequest("body: empty; send a JSON object"))
	case errors.As(err, &syntax):
		fail(w, badRequest("body: invalid JSON at byte %d: %v", syntax.Offset, err))
	case errors.As(err, &typ):
		fail(w, badRequest("body: field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value))
	default:
		fail(w, badRequest("body: %v", err))
	}
	return false
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		reply(w, ae.status, Error{Error: ae.msg})
		return
	}
	reply(w, 500, Error{Error: err.Error()})
}
