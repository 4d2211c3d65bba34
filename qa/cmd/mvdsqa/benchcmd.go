package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mvdsguard/mvdsguard/internal/benchdoc"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode"
)

// benchConfig is `mvdsqa bench`: stock and guarded nodes over real go-waku
// relay on 127.0.0.1, status-go's 300 ms epoch.
type benchConfig struct {
	messages   int           // 1:1 messages of the latency run
	rate       float64       // their sends per second
	queued     int           // contact requests queued during the disconnect
	disconnect time.Duration // how long the sender is off the network
	horizon    time.Duration // how long after reconnecting to wait for the stock node
	within     time.Duration // the Guard's goal: everything delivered this soon after reconnecting
	doc        string        // write the results into this file's waku section
	keep       bool
}

func (c benchConfig) validate() error {
	switch {
	case c.messages < 1 || c.messages > 100000:
		return fmt.Errorf("-messages %d must be in [1, 100000]", c.messages)
	case c.rate <= 0 || c.rate > 10000:
		return fmt.Errorf("-rate %v must be in (0, 10000] sends per second", c.rate)
	case c.queued < 1 || c.queued > 100000:
		return fmt.Errorf("-queued %d must be in [1, 100000]", c.queued)
	case c.disconnect < time.Second || c.disconnect > time.Hour:
		return fmt.Errorf("-disconnect %v must be between 1s and 1h", c.disconnect)
	case c.horizon < c.within || c.horizon > 2*time.Hour:
		return fmt.Errorf("-horizon %v must be between -within (%v) and 2h", c.horizon, c.within)
	case c.within <= 0:
		return fmt.Errorf("-within %v must be positive", c.within)
	}
	return nil
}

func runBenchCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg benchConfig
	fs.IntVar(&cfg.messages, "messages", 1000, "1:1 messages of the latency run")
	fs.Float64Var(&cfg.rate, "rate", 100, "sends per second in the latency run")
	fs.IntVar(&cfg.queued, "queued", 100, "contact requests queued while the sender is disconnected")
	fs.DurationVar(&cfg.disconnect, "disconnect", 30*time.Second, "how long the sender stays off the network")
	fs.DurationVar(&cfg.horizon, "horizon", 3*time.Minute, "how long after reconnecting to wait for the stock node")
	fs.DurationVar(&cfg.within, "within", 2*time.Second, "the Guard's goal: every queued message delivered this soon after reconnecting")
	fs.StringVar(&cfg.doc, "doc", "", "write the results into this file between <!-- waku:begin --> and <!-- waku:end -->")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the nodes' SQLite files and print their directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return exitCode("bench", runBench(ctx, cfg, stdout), stderr)
}

// pair is a sender and a recipient linked over relay.
type pair struct {
	alice, bob *qanode.Node
}

func startPair(ctx context.Context, dir string, stock bool) (*pair, error) {
	p := &pair{}
	var err error
	if p.bob, err = qanode.Start(ctx, qanode.Config{Name: "bob", Dir: filepath.Join(dir, "bob"), API: "-", Stock: stock}); err != nil {
		return nil, err
	}
	if p.alice, err = qanode.Start(ctx, qanode.Config{Name: "alice", Dir: filepath.Join(dir, "alice"), API: "-", Stock: stock,
		Peers: p.bob.Transport().Addrs()[:1]}); err != nil {
		p.bob.Close()
		return nil, err
	}
	if err := waitFor(ctx, 30*time.Second, func() bool { return p.alice.Info().Online && p.bob.Info().Online }); err != nil {
		p.close()
		return nil, fmt.Errorf("nodes did not connect over relay: %w", err)
	}
	// One message each way first: the relay mesh is formed and both nodes
	// have run their first epochs before anything is measured.
	for _, w := range []struct {
		from, to *qanode.Node
		id       string
	}{{p.alice, p.bob, "warm-up-a"}, {p.bob, p.alice, "warm-up-b"}} {
		if _, err := w.from.Send(ctx, qanode.SendRequest{ID: w.id, To: w.to.Info().ID, Flow: "one_to_one"}); err != nil {
			p.close()
			return nil, err
		}
		if err := waitFor(ctx, 60*time.Second, func() bool {
			m, err := w.from.Message(ctx, w.id)
			return err == nil && m.Status == "delivered"
		}); err != nil {
			p.close()
			return nil, fmt.Errorf("warm-up message not delivered: %w", err)
		}
	}
	return p, nil
}

// nothingPending says whether every message alice sent is acknowledged.
func (p *pair) nothingPending(ctx context.Context) func() bool {
	return func() bool {
		ms, err := p.alice.Messages(ctx, "pending")
		return err == nil && len(ms) == 0
	}
}

func (p *pair) close() {
	p.alice.Close()
	p.bob.Close()
}

// waitFor polls cond every 20 ms until it holds, the limit passes or ctx ends.
func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// outcome is what one node's sent messages came to.
type outcome struct {
	delays    []time.Duration // from the reference to the ack, sorted
	pending   int
	attempts  int
	received  int // distinct messages bob's application got
	duplicate int // deliveries to bob's application beyond the first
}

// collect reads alice's messages with the given prefix and bob's inbox; the
// delay of each delivered message is measured from ref, or from its own
// send when ref is zero.
func collect(ctx context.Context, p *pair, prefix string, ref time.Time) (outcome, error) {
	var o outcome
	ms, err := p.alice.Messages(ctx, "")
	if err != nil {
		return o, err
	}
	for _, m := range ms {
		if !strings.HasPrefix(m.ID, prefix) {
			continue
		}
		o.attempts += m.Attempts
		if len(m.Recipients) != 1 || m.Recipients[0].AckedAt == nil {
			o.pending++
			continue
		}
		from := ref
		if from.IsZero() {
			from = m.SentAt
		}
		o.delays = append(o.delays, m.Recipients[0].AckedAt.Sub(from))
	}
	sort.Slice(o.delays, func(i, j int) bool { return o.delays[i] < o.delays[j] })
	seen := map[string]int{}
	for after := int64(0); ; {
		rs, err := p.bob.Received(ctx, after, 1000)
		if err != nil {
			return o, err
		}
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			if strings.HasPrefix(r.ID, prefix) {
				seen[r.ID]++
			}
			after = r.Seq
		}
	}
	for _, n := range seen {
		o.received++
		o.duplicate += n - 1
	}
	return o, nil
}

func (o outcome) delivered() int { return len(o.delays) }

// quantile is the q-quantile (nearest rank) of the delays of all total
// messages, the undelivered counting as longer than any; ok is false when
// that rank falls on an undelivered message.
func (o outcome) quantile(q float64, total int) (d time.Duration, ok bool) {
	rank := int(math.Ceil(q * float64(total)))
	rank = max(1, min(rank, total))
	if rank > len(o.delays) {
		return 0, false
	}
	return o.delays[rank-1], true
}

func (o outcome) within(d time.Duration) int {
	return sort.Search(len(o.delays), func(i int) bool { return o.delays[i] > d })
}

type latencyResult struct {
	outcome
	took time.Duration // from the first send to the last ack
}

// latencyRun sends cfg.messages 1:1 messages at cfg.rate and waits for every
// ack.
func latencyRun(ctx context.Context, cfg benchConfig, dir string, stock bool) (latencyResult, error) {
	var res latencyResult
	p, err := startPair(ctx, dir, stock)
	if err != nil {
		return res, err
	}
	defer p.close()
	to := p.bob.Info().ID
	gap := time.Duration(float64(time.Second) / cfg.rate)
	start := time.Now()
	for i := 0; i < cfg.messages; i++ {
		if d := time.Until(start.Add(time.Duration(i) * gap)); d > 0 {
			time.Sleep(d)
		}
		if _, err := p.alice.Send(ctx, qanode.SendRequest{ID: fmt.Sprintf("m-%05d", i), To: to, Flow: "one_to_one",
			Payload: fmt.Sprintf("message %d of the latency run", i)}); err != nil {
			return res, err
		}
	}
	limit := time.Minute + time.Duration(cfg.messages)*10*time.Millisecond
	// A timeout is a result, not an error: the messages still pending are
	// counted as such.
	_ = waitFor(ctx, limit, p.nothingPending(ctx))
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	res.took = time.Since(start)
	// Let duplicates, if any, arrive before they are counted.
	time.Sleep(time.Second)
	res.outcome, err = collect(ctx, p, "m-", time.Time{})
	return res, err
}

type disconnectResult struct {
	outcome
	offlineAttempts int           // attempts counted while the sender was off the network
	onlineAfter     time.Duration // reconnect call to the node's connectivity saying online
}

// disconnectRun takes the sender off the network, queues cfg.queued contact
// requests, waits cfg.disconnect, reconnects, and measures every ack from
// the moment of reconnecting, for up to cfg.horizon.
func disconnectRun(ctx context.Context, cfg benchConfig, dir string, stock bool) (disconnectResult, error) {
	var res disconnectResult
	p, err := startPair(ctx, dir, stock)
	if err != nil {
		return res, err
	}
	defer p.close()
	to := p.bob.Info().ID
	if err := p.alice.SetOnline(ctx, false); err != nil {
		return res, err
	}
	if err := waitFor(ctx, 10*time.Second, func() bool { return !p.alice.Info().Online }); err != nil {
		return res, fmt.Errorf("connectivity still online after going offline: %w", err)
	}
	for i := 0; i < cfg.queued; i++ {
		if _, err := p.alice.Send(ctx, qanode.SendRequest{ID: fmt.Sprintf("cr-%05d", i), To: to, Flow: "contact_request",
			Kind: "control", Payload: fmt.Sprintf("contact request %d", i)}); err != nil {
			return res, err
		}
	}
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(cfg.disconnect):
	}
	before, err := collect(ctx, p, "cr-", time.Time{})
	if err != nil {
		return res, err
	}
	res.offlineAttempts = before.attempts
	reconnect := time.Now()
	if err := p.alice.SetOnline(ctx, true); err != nil {
		return res, err
	}
	if waitFor(ctx, cfg.horizon, func() bool { return p.alice.Info().Online }) == nil {
		res.onlineAfter = time.Since(reconnect)
	}
	// The Guard is judged at cfg.within; the stock node gets the horizon.
	_ = waitFor(ctx, cfg.horizon, p.nothingPending(ctx))
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	time.Sleep(time.Second)
	res.outcome, err = collect(ctx, p, "cr-", reconnect)
	return res, err
}

// disconnectBoth runs the disconnect on a stock and a guarded pair at the
// same time, in dir.
func disconnectBoth(ctx context.Context, cfg benchConfig, dir string) (map[string]disconnectResult, error) {
	dis := map[string]disconnectResult{}
	errs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, v := range []string{"stock", "guarded"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := disconnectRun(ctx, cfg, filepath.Join(dir, "disconnect-"+v), v == "stock")
			mu.Lock()
			dis[v], errs[v] = r, err
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, v := range []string{"stock", "guarded"} {
		if errs[v] != nil {
			return nil, fmt.Errorf("disconnect run, %s: %w", v, errs[v])
		}
	}
	return dis, nil
}

func runBench(ctx context.Context, cfg benchConfig, out io.Writer) error {
	wd, err := newWorkdir(cfg.keep, out)
	if err != nil {
		return err
	}
	defer wd.close()
	load0 := benchdoc.LoadAverage()
	began := time.Now()
	fmt.Fprintf(out, "mvdsqa bench: stock (status-go) and guarded mvds nodes over go-waku relay on 127.0.0.1, %v epochs\n\n", qanodeEpoch)

	// The latency runs take turns, so that neither shares the cores with
	// the other.
	lat := map[string]latencyResult{}
	for _, v := range []string{"stock", "guarded"} {
		fmt.Fprintf(out, "latency: %d 1:1 messages at %g/s, %s ...\n", cfg.messages, cfg.rate, v)
		r, err := latencyRun(ctx, cfg, filepath.Join(wd.dir, "latency-"+v), v == "stock")
		if err != nil {
			return fmt.Errorf("latency run, %s: %w", v, err)
		}
		lat[v] = r
	}
	// The disconnect runs share the wall clock: the stock node's wait is
	// mostly idle backoff.
	fmt.Fprintf(out, "disconnect: %d contact requests queued during a %v disconnect, stock and guarded at once ...\n", cfg.queued, cfg.disconnect)
	dis, err := disconnectBoth(ctx, cfg, wd.dir)
	if err != nil {
		return err
	}
	text := benchReport(cfg, lat, dis, load0, benchdoc.LoadAverage(), time.Since(began))
	fmt.Fprintf(out, "\n%s", text)
	if cfg.doc != "" {
		if err := benchdoc.WriteSection(cfg.doc, "waku", "runtime", text); err != nil {
			return err
		}
		fmt.Fprintf(out, "\nwritten to %s\n", cfg.doc)
	}
	return benchVerdict(cfg, lat, dis)
}

// qanodeEpoch is the epoch the QA node runs by default: status-go's.
const qanodeEpoch = 300 * time.Millisecond

// benchVerdict holds the Guard to its goals; the stock node is only measured.
func benchVerdict(cfg benchConfig, lat map[string]latencyResult, dis map[string]disconnectResult) error {
	var fails []string
	g := lat["guarded"]
	if g.delivered() != cfg.messages || g.received != cfg.messages || g.duplicate != 0 {
		fails = append(fails, fmt.Sprintf("latency run: %d of %d acknowledged, %d received, %d duplicates", g.delivered(), cfg.messages, g.received, g.duplicate))
	}
	d := dis["guarded"]
	if n := d.within(cfg.within); n != cfg.queued || d.duplicate != 0 {
		fails = append(fails, fmt.Sprintf("disconnect run: %d of %d delivered within %v of reconnecting, %d duplicates", n, cfg.queued, cfg.within, d.duplicate))
	}
	if d.offlineAttempts != 0 {
		fails = append(fails, fmt.Sprintf("disconnect run: %d attempts counted while offline", d.offlineAttempts))
	}
	if len(fails) > 0 {
		return &expectationError{msg: "the Guard missed its goals: " + strings.Join(fails, "; ")}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func ratio(a, b time.Duration) string { return ratioCell(a, true, b, true) }

// benchReport is the section of docs/benchmarks.md, also printed.
func benchReport(cfg benchConfig, lat map[string]latencyResult, dis map[string]disconnectResult, load0, load1 string, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## QA nodes over go-waku relay: send-to-ack latency, and a %v disconnect\n\n", cfg.disconnect)
	fmt.Fprintf(&b, "Command: `make bench-waku` (it runs `go run ./cmd/mvdsqa bench -doc ../docs/benchmarks.md` in `qa/`; flags: `-messages %d -rate %g -queued %d -disconnect %v -horizon %v -within %v`). "+
		"Each run starts two `mvdsqa` nodes in one process — go-waku v0.10.0 in relay mode on 127.0.0.1, mvds on its own SQLite file, status-go's %v epoch — joined by one relay connection, "+
		"and exchanges a message each way before measuring. Stock nodes are mvds as status-go configures it; guarded nodes run the Guard with its default policies. "+
		"Send-to-ack is from the application's send to the first ack for that message reaching the sender. Machine: %s/%s, %d CPUs, %s; one-minute load average %s before and %s after; the whole run took %s.\n\n",
		cfg.messages, cfg.rate, cfg.queued, cfg.disconnect, cfg.horizon, cfg.within, qanodeEpoch,
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), load0, load1, took.Round(time.Second))

	s, g := lat["stock"], lat["guarded"]
	fmt.Fprintf(&b, "**Latency.** %d 1:1 messages sent at %g per second, stock run first, then guarded.\n\n", cfg.messages, cfg.rate)
	fmt.Fprintf(&b, "| | stock (status-go) | guarded | guarded ÷ stock |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| acknowledged | %d of %d | %d of %d | |\n", s.delivered(), cfg.messages, g.delivered(), cfg.messages)
	fmt.Fprintf(&b, "| received by the application (duplicates) | %d (%d) | %d (%d) | |\n", s.received, s.duplicate, g.received, g.duplicate)
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"max", 1}} {
		sq, sok := s.quantile(q.q, cfg.messages)
		gq, gok := g.quantile(q.q, cfg.messages)
		fmt.Fprintf(&b, "| send-to-ack %s | %s | %s | %s |\n", q.name, delayCell(sq, sok, "never"), delayCell(gq, gok, "never"), ratioCell(gq, gok, sq, sok))
	}
	fmt.Fprintf(&b, "| transmissions per message | %.2f | %.2f | |\n", perMessage(s.attempts, cfg.messages), perMessage(g.attempts, cfg.messages))
	fmt.Fprintf(&b, "| first send to last ack | %s | %s | %s |\n\n", secs(s.took), secs(g.took), ratio(g.took, s.took))

	ds, dg := dis["stock"], dis["guarded"]
	fmt.Fprintf(&b, "**Disconnect.** The sender goes off the network (every connection closed, new ones refused), %d contact requests are sent, "+
		"and %v later it comes back; delays are measured from the call that brings it back, so they include redialling and the relay mesh re-forming. "+
		"Both runs at the same time; the stock node is given %v.\n\n", cfg.queued, cfg.disconnect, cfg.horizon)
	fmt.Fprintf(&b, "| | stock (status-go) | guarded | guarded ÷ stock |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| attempts counted while offline | %d | %d | |\n", ds.offlineAttempts, dg.offlineAttempts)
	fmt.Fprintf(&b, "| connectivity online again after | %s | %s | |\n", ms(ds.onlineAfter), ms(dg.onlineAfter))
	fmt.Fprintf(&b, "| delivered within %v of reconnecting | %d of %d | **%d of %d** | |\n", cfg.within, ds.within(cfg.within), cfg.queued, dg.within(cfg.within), cfg.queued)
	fmt.Fprintf(&b, "| delivered within %v | %d of %d | %d of %d | |\n", cfg.horizon, ds.delivered(), cfg.queued, dg.delivered(), cfg.queued)
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.50}, {"p99", 0.99}, {"last", 1}} {
		sq, sok := ds.quantile(q.q, cfg.queued)
		gq, gok := dg.quantile(q.q, cfg.queued)
		never := "not within " + cfg.horizon.String()
		fmt.Fprintf(&b, "| reconnect to ack, %s | %s | %s | %s |\n", q.name, delayCell(sq, sok, never), delayCell(gq, gok, never), ratioCell(gq, gok, sq, sok))
	}
	fmt.Fprintf(&b, "| received by the application (duplicates) | %d (%d) | %d (%d) | |\n\n", ds.received, ds.duplicate, dg.received, dg.duplicate)

	goal := "met"
	if benchVerdict(cfg, lat, dis) != nil {
		goal = "**not met**"
	}
	fmt.Fprintf(&b, "Goal: every message delivered, and after a %v disconnect 100%% delivered within %v of reconnecting with the Guard — %s. ", cfg.disconnect, cfg.within, goal)
	fmt.Fprintf(&b, "The stock node counts an attempt for every send that failed while offline and waits out its backoff (30 s, then 60 s, … plus up to 8.7 s of jitter) after the network is back; "+
		"the Guard counts none, and on reconnecting reschedules every pending message to the next epochs (100 at once, then 50 per second).\n")
	return b.String()
}

func perMessage(attempts, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(attempts) / float64(n)
}

func delayCell(d time.Duration, ok bool, never string) string {
	if !ok {
		return never
	}
	if d >= 10*time.Second {
		return secs(d)
	}
	return ms(d)
}

func ratioCell(a time.Duration, aok bool, b time.Duration, bok bool) string {
	if !aok || !bok || b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}
