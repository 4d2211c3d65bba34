package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

type demoConfig struct {
	epoch    time.Duration
	seed     int64
	keep     bool
	messages int
}

func (c demoConfig) validate() error {
	if c.epoch <= 0 || c.epoch > time.Second {
		return fmt.Errorf("-epoch %v must be in (0, 1s]", c.epoch)
	}
	if c.messages < 1 || c.messages > 10000 {
		return fmt.Errorf("-messages %d must be in [1, 10000]", c.messages)
	}
	return nil
}

// expectationError is a scenario outcome that contradicts what the engine
// promises; it makes the demo exit 1.
type expectationError struct{ msg string }

func (e *expectationError) Error() string { return e.msg }

// maxReconnectEpochs bounds the hooked node's reconnect-to-acknowledgement
// time: the rescheduled states go out at the next epoch, and the ack comes
// back at the recipient's next epoch; two more epochs absorb scheduling
// noise, which is large relative to a millisecond epoch.
const maxReconnectEpochs = 3 + 2

// realEpoch is status-go's epoch, to express simulated epochs in real time.
const realEpoch = mvds.StockEpoch

func seconds(epochs int64) string {
	d := time.Duration(epochs) * realEpoch
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

func runDemo(cfg demoConfig, out io.Writer) error {
	dir, err := os.MkdirTemp("", "mvdsqa-demo-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	if cfg.keep {
		fmt.Fprintf(out, "SQLite files kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	fmt.Fprintf(out, "mvdsguard engine demo: status-go's stock configuration vs a hooked node\n")
	fmt.Fprintf(out, "real mvds nodes on SQLite files, in-process network; one epoch lasts %v here and %v in status-go\n\n", cfg.epoch, realEpoch)

	tw := tabwriter.NewWriter(out, 2, 8, 3, ' ', 0)
	fmt.Fprintf(tw, "\tstock (status-go)\thooked\n")
	var failures []string
	for _, outage := range []struct {
		name   string
		epochs int64
	}{{"1 minute", 200}, {"10 minutes", 2000}} {
		res := map[string]outageResult{}
		for _, kind := range []string{"stock", "hooked"} {
			r, err := runOutage(cfg, dir, kind, outage.epochs)
			if err != nil {
				return fmt.Errorf("outage %s, %s node: %w", outage.name, kind, err)
			}
			res[kind] = r
		}
		fmt.Fprintf(tw, "%d messages queued offline, %s (%d epochs)\t\t\n", cfg.messages, outage.name, outage.epochs)
		fmt.Fprintf(tw, "  attempts counted while offline\t%d\t%d\n", res["stock"].offlineAttempts, res["hooked"].offlineAttempts)
		fmt.Fprintf(tw, "  reconnect → every message acknowledged\t%s\t%s\n", res["stock"].delay(), res["hooked"].delay())
		if h := res["hooked"]; h.offlineAttempts != 0 || h.reconnectToAck < 0 || h.reconnectToAck > maxReconnectEpochs {
			failures = append(failures, fmt.Sprintf("hooked node, %s outage: %d offline attempts, %d epochs to acknowledgement (want 0 and ≤ %d)",
				outage.name, h.offlineAttempts, h.reconnectToAck, maxReconnectEpochs))
		}
	}
	res := map[string]unreachableResult{}
	for _, kind := range []string{"stock", "hooked"} {
		r, err := runUnreachable(cfg, dir, kind)
		if err != nil {
			return fmt.Errorf("unreachable recipient, %s node: %w", kind, err)
		}
		res[kind] = r
	}
	fmt.Fprintf(tw, "1 message to a recipient that never comes back\t\t\n")
	fmt.Fprintf(tw, "  transmissions\t%d\t%d\n", res["stock"].transmissions, res["hooked"].transmissions)
	fmt.Fprintf(tw, "  running time until the last one\t%d epochs (%s)\t%d epochs (%s)\n",
		res["stock"].span, seconds(res["stock"].span), res["hooked"].span, seconds(res["hooked"].span))
	fmt.Fprintf(tw, "  what the application learns\t%s\t%s\n", res["stock"].outcome(), res["hooked"].outcome())
	if err := tw.Flush(); err != nil {
		return err
	}
	if s := res["stock"]; s.reported || s.transmissions != mvds.MaxSendCount+1 {
		failures = append(failures, fmt.Sprintf("stock node: %d transmissions, reported %v (status-go: %d, never reported)", s.transmissions, s.reported, mvds.MaxSendCount+1))
	}
	if h := res["hooked"]; !h.reported {
		failures = append(failures, "hooked node: the limit was not reported")
	}
	fmt.Fprintf(out, "\nThe hooked node here only pauses while offline, reschedules on reconnect and reports the limit;\n"+
		"per-flow policies, events and the GUI contract come with the enforcement layer (retry/).\n"+
		"Fast-forward: epochs advance only while a node runs, so the demo restarts the node at the next due epoch.\n")
	if len(failures) > 0 {
		return &expectationError{msg: fmt.Sprintf("%d expectation(s) failed: %v", len(failures), failures)}
	}
	return nil
}

// pauseHook is the smallest useful hook: skip while offline, report the limit.
type pauseHook struct {
	mvds.NopHook
	offline  atomic.Bool
	reported atomic.Bool
}

func (h *pauseHook) Due(int64, mvds.State) mvds.Decision {
	if h.offline.Load() {
		return mvds.Decision{Action: mvds.Skip}
	}
	return mvds.Decision{Action: mvds.Send}
}

func (h *pauseHook) LimitReached(*sql.Tx, int64, mvds.State) (bool, error) {
	h.reported.Store(true)
	return true, nil
}

type outageResult struct {
	offlineAttempts uint64
	reconnectToAck  int64 // -1: not within the bound
}

func (r outageResult) delay() string {
	if r.reconnectToAck < 0 {
		return "not within 20000 epochs"
	}
	return fmt.Sprintf("%d epochs (%s)", r.reconnectToAck, seconds(r.reconnectToAck))
}

type unreachableResult struct {
	transmissions int
	span          int64
	reported      bool
}

func (r unreachableResult) outcome() string {
	if r.reported {
		return "limit reached, reported by the hook"
	}
	return "nothing: the state was deleted silently"
}

// pairSetup is a sender A and a recipient B on their own SQLite files.
type pairSetup struct {
	net    *memtransport.Network
	a, b   mvds.PeerID
	group  mvds.GroupID
	dbA    *mvds.DB
	dbB    *mvds.DB
	nodeB  *mvds.Node
	opts   []mvds.Option
	closed []func()
}

func newPair(cfg demoConfig, dir, name, kind string, hook mvds.Hook, observer func(memtransport.Transmission)) (*pairSetup, error) {
	p := &pairSetup{a: peer(1), b: peer(2), group: mvds.GroupID{0xde, 0x30}}
	var netOpts []memtransport.Option
	if observer != nil {
		netOpts = append(netOpts, memtransport.WithObserver(observer))
	}
	p.net = memtransport.New(cfg.seed, netOpts...)
	var err error
	if p.dbA, err = mvds.Open(filepath.Join(dir, name+"-"+kind+"-sender.db")); err != nil {
		return nil, err
	}
	if p.dbB, err = mvds.Open(filepath.Join(dir, name+"-"+kind+"-recipient.db")); err != nil {
		return nil, err
	}
	jitter := rand.New(rand.NewPCG(uint64(cfg.seed), 7)).IntN
	p.opts = []mvds.Option{mvds.WithEpoch(cfg.epoch), mvds.WithJitterSource(jitter), mvds.WithLogger(zap.NewNop())}
	if kind == "stock" {
		p.opts = append(p.opts, mvds.Stock())
	} else {
		p.opts = append(p.opts, mvds.WithHook(hook))
	}
	epB, err := p.net.Join(p.b)
	if err != nil {
		return nil, err
	}
	if p.nodeB, err = mvds.NewNode(p.dbB, epB, p.b, mvds.WithEpoch(cfg.epoch), mvds.WithLogger(zap.NewNop()),
		mvds.WithHandler(func(context.Context, *sql.Tx, mvds.Received) error { return nil })); err != nil {
		return nil, err
	}
	if err := p.nodeB.AddPeer(context.Background(), p.group, p.a); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pairSetup) startA() (*mvds.Node, error) {
	ep, err := p.net.Join(p.a)
	if err != nil {
		return nil, err
	}
	return mvds.NewNode(p.dbA, ep, p.a, p.opts...)
}

func (p *pairSetup) close(nodeA *mvds.Node) {
	if nodeA != nil {
		_ = nodeA.Close()
	}
	_ = p.nodeB.Close()
	p.net.Close()
	_ = p.dbA.Close()
	_ = p.dbB.Close()
}

func peer(b byte) mvds.PeerID {
	var id mvds.PeerID
	id[0], id[1] = 0x04, b
	return id
}

// waitEpochs sleeps until the node has run past epoch, within a bound.
func waitFor(bound time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}

func runOutage(cfg demoConfig, dir, kind string, outage int64) (outageResult, error) {
	hook := &pauseHook{}
	p, err := newPair(cfg, dir, fmt.Sprintf("outage-%d", outage), kind, hook, nil)
	if err != nil {
		return outageResult{}, err
	}
	ctx := context.Background()
	p.net.SetOnline(p.a, false)
	hook.offline.Store(true)
	na, err := p.startA()
	if err != nil {
		return outageResult{}, err
	}
	defer p.close(na)
	if err := na.AddPeer(ctx, p.group, p.b); err != nil {
		return outageResult{}, err
	}
	for i := 0; i < cfg.messages; i++ {
		if _, err := na.Append(ctx, p.group, []byte(fmt.Sprintf("contact request %d", i))); err != nil {
			return outageResult{}, err
		}
	}
	start := na.CurrentEpoch()
	bound := time.Duration(outage*20)*cfg.epoch + 30*time.Second
	if !waitFor(bound, func() bool { return na.CurrentEpoch() >= start+outage }) {
		return outageResult{}, errors.New("the node stopped advancing epochs")
	}
	states, err := na.States(ctx, mvds.Selection{})
	if err != nil {
		return outageResult{}, err
	}
	var res outageResult
	for _, s := range states {
		res.offlineAttempts += s.SendCount
	}
	p.net.SetOnline(p.a, true)
	hook.offline.Store(false)
	reconnect := na.CurrentEpoch()
	if kind == "hooked" {
		if _, err := na.Reschedule(ctx, mvds.Selection{}, func(mvds.State) int64 { return reconnect }); err != nil {
			return outageResult{}, err
		}
	}
	const limit = 20000
	res.reconnectToAck = -1
	acked := func() bool {
		s, err := na.States(ctx, mvds.Selection{})
		return err == nil && len(s) == 0
	}
	if waitFor(time.Duration(limit*20)*cfg.epoch+30*time.Second, func() bool { return acked() || na.CurrentEpoch() > reconnect+limit }) && acked() {
		res.reconnectToAck = na.CurrentEpoch() - reconnect
	}
	return res, nil
}

func runUnreachable(cfg demoConfig, dir, kind string) (unreachableResult, error) {
	var (
		mu      sync.Mutex
		current atomic.Pointer[mvds.Node]
		target  atomic.Pointer[mvds.MessageID]
		epochs  []int64
	)
	observe := func(tr memtransport.Transmission) {
		n, id := current.Load(), target.Load()
		if n == nil || id == nil || tr.From != n.ID() {
			return
		}
		for _, m := range tr.Payload.Messages {
			if m.ID() == *id {
				mu.Lock()
				epochs = append(epochs, n.CurrentEpoch())
				mu.Unlock()
			}
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(epochs) }
	hook := &pauseHook{}
	p, err := newPair(cfg, dir, "unreachable", kind, hook, observe)
	if err != nil {
		return unreachableResult{}, err
	}
	p.net.Partition(p.a, p.b)
	ctx := context.Background()
	na, err := p.startA()
	if err != nil {
		return unreachableResult{}, err
	}
	defer func() { p.close(current.Load()) }()
	current.Store(na)
	if err := na.AddPeer(ctx, p.group, p.b); err != nil {
		return unreachableResult{}, err
	}
	id, err := na.Append(ctx, p.group, []byte("contact request to someone gone"))
	if err != nil {
		return unreachableResult{}, err
	}
	target.Store(&id)
	first := na.CurrentEpoch()
	const bound = 30 * time.Second
	for k := 1; k <= mvds.MaxSendCount+1; k++ {
		if !waitFor(bound, func() bool { return count() >= k }) {
			return unreachableResult{}, fmt.Errorf("transmission %d never happened", k)
		}
		var states []mvds.State
		settled := waitFor(bound, func() bool {
			states, err = na.States(ctx, mvds.MessageStates(id))
			if err != nil {
				return false
			}
			if k > mvds.MaxSendCount {
				return len(states) == 0
			}
			return len(states) == 1 && states[0].SendCount == uint64(k)
		})
		if !settled {
			return unreachableResult{}, fmt.Errorf("after transmission %d the state did not settle (%v)", k, err)
		}
		if len(states) == 0 {
			break
		}
		// Fast-forward to just before the next due epoch.
		if err := na.Close(); err != nil {
			return unreachableResult{}, err
		}
		if _, err := p.dbA.SQL().Exec(`UPDATE mvds_epoch SET epoch = ? WHERE peer_id = ?`, states[0].SendEpoch-3, p.a[:]); err != nil {
			return unreachableResult{}, err
		}
		if na, err = p.startA(); err != nil {
			return unreachableResult{}, err
		}
		current.Store(na)
	}
	mu.Lock()
	defer mu.Unlock()
	return unreachableResult{transmissions: len(epochs), span: epochs[len(epochs)-1] - first, reported: hook.reported.Load()}, nil
}
