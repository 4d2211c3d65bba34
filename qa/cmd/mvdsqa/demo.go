package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/internal/sim"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/retry"
)

type demoConfig struct {
	epoch    time.Duration
	seed     int64
	keep     bool
	messages int
}

func (c demoConfig) validate() error {
	if c.epoch < time.Millisecond || c.epoch > time.Second {
		return fmt.Errorf("-epoch %v must be in [1ms, 1s]", c.epoch)
	}
	if c.messages < 1 || c.messages > 10000 {
		return fmt.Errorf("-messages %d must be in [1, 10000]", c.messages)
	}
	return nil
}

// expectationError is an outcome that contradicts what the Guard promises;
// it makes the command exit 1.
type expectationError struct{ msg string }

func (e *expectationError) Error() string { return e.msg }

// schedulingSlack is how many epochs beyond the Guard's bound a loaded
// machine may add before an expectation fails: the recipient runs its own
// epochs, and on a busy machine they can lag. The tables print what was
// measured.
const schedulingSlack = 10

// nominal is the epoch the simulation stands for: status-go's.
const nominal = mvds.StockEpoch

func realTime(epochs int64) string {
	d := time.Duration(epochs) * nominal
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	case d >= 2*time.Minute:
		return fmt.Sprintf("%.1f min", d.Minutes())
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

func epochsOf(d time.Duration) int64 { return int64(d / nominal) }

type workdir struct {
	dir  string
	keep bool
}

func newWorkdir(keep bool, out io.Writer) (*workdir, error) {
	dir, err := os.MkdirTemp("", "mvdsqa-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	if keep {
		fmt.Fprintf(out, "SQLite files kept in %s\n", dir)
	}
	return &workdir{dir: dir, keep: keep}, nil
}

func (w *workdir) close() {
	if !w.keep {
		_ = os.RemoveAll(w.dir)
	}
}

func (w *workdir) sub(name string) (string, error) {
	d, err := os.MkdirTemp(w.dir, name+"-")
	if err != nil {
		return "", fmt.Errorf("temporary directory: %w", err)
	}
	return d, nil
}

func (c demoConfig) sim(dir string, s sim.Sender, flow mvdsguard.Flow, kind retry.Kind) sim.Config {
	return sim.Config{Dir: dir, Sender: s, Epoch: c.epoch, Seed: c.seed, Flow: flow, Kind: kind}
}

// runSimDemo prints the long-outage comparison: outages of an hour and
// recipients who never come back, which no real-time run can show.
func runSimDemo(cfg demoConfig, out io.Writer) error {
	wd, err := newWorkdir(cfg.keep, out)
	if err != nil {
		return err
	}
	defer wd.close()
	fmt.Fprintf(out, "Long outages, simulated: real mvds nodes on SQLite files over the in-process network; %v epochs (status-go's)\n", nominal)
	fmt.Fprintf(out, "run in %v and fast-forwarded over epochs where nothing is due\n\n", cfg.epoch)
	tw := tabwriter.NewWriter(out, 2, 8, 3, ' ', 0)
	fmt.Fprintf(tw, "\tstock (status-go)\tguarded\n")
	var failures []string

	for _, outage := range []struct {
		name string
		d    time.Duration
	}{{"1 minute", time.Minute}, {"1 hour", time.Hour}} {
		res := map[sim.Sender]sim.OutageResult{}
		for _, s := range []sim.Sender{sim.Stock, sim.Guarded} {
			dir, err := wd.sub("outage")
			if err != nil {
				return err
			}
			r, err := sim.Outage(cfg.sim(dir, s, mvdsguard.ContactRequest, retry.Control), cfg.messages, epochsOf(outage.d), epochsOf(11*24*time.Hour))
			if err != nil {
				return fmt.Errorf("outage of %s, %s sender: %w", outage.name, s, err)
			}
			res[s] = r
		}
		st, gu := res[sim.Stock], res[sim.Guarded]
		fmt.Fprintf(tw, "%d contact requests queued offline, %s offline\t\t\n", cfg.messages, outage.name)
		fmt.Fprintf(tw, "  attempts counted while offline\t%d\t%d\n", st.OfflineAttempts, gu.OfflineAttempts)
		fmt.Fprintf(tw, "  reconnect → every one acknowledged\t%s\t%s\n", reconnectCell(st), reconnectCell(gu))
		if gu.OfflineAttempts != 0 || gu.ReconnectToAll < 0 || gu.ReconnectToAll > gu.Bound+schedulingSlack || gu.Delivered != cfg.messages {
			failures = append(failures, fmt.Sprintf("guarded, %s offline: %d offline attempts, %d epochs to deliver (bound %d), %d of %d delivered",
				outage.name, gu.OfflineAttempts, gu.ReconnectToAll, gu.Bound, gu.Delivered, cfg.messages))
		}
	}

	unreachable := []struct {
		title   string
		sender  sim.Sender
		flow    mvdsguard.Flow
		kind    retry.Kind
		horizon time.Duration
		want    func(sim.UnreachableResult) bool
	}{
		{"stock", sim.Stock, mvdsguard.OneToOne, retry.Content, 11 * 24 * time.Hour, func(r sim.UnreachableResult) bool {
			return !r.Reported && !r.StillTrying && r.Transmissions == mvds.MaxSendCount+1
		}},
		{"guarded chat message", sim.Guarded, mvdsguard.OneToOne, retry.Content, 11 * 24 * time.Hour, func(r sim.UnreachableResult) bool { return r.Reported }},
		{"guarded contact request", sim.Guarded, mvdsguard.ContactRequest, retry.Control, time.Hour, func(r sim.UnreachableResult) bool { return r.StillTrying }},
	}
	res := make([]sim.UnreachableResult, len(unreachable))
	for i, u := range unreachable {
		dir, err := wd.sub("unreachable")
		if err != nil {
			return err
		}
		if res[i], err = sim.Unreachable(cfg.sim(dir, u.sender, u.flow, u.kind), epochsOf(u.horizon)); err != nil {
			return fmt.Errorf("unreachable recipient, %s: %w", u.title, err)
		}
		if !u.want(res[i]) {
			failures = append(failures, fmt.Sprintf("unreachable recipient, %s: %+v", u.title, res[i]))
		}
	}
	st, chat, cr := res[0], res[1], res[2]
	fmt.Fprintf(tw, "1 chat message to someone who never comes back\t\t\n")
	fmt.Fprintf(tw, "  transmissions, over\t%d, %s\t%d, %s\n", st.Transmissions, realTime(st.Span), chat.Transmissions, realTime(chat.Span))
	fmt.Fprintf(tw, "  the application learns\t%s\t%s\n", st.Outcome, chat.Outcome)
	fmt.Fprintf(tw, "1 contact request to someone who never comes back\t\t\n")
	fmt.Fprintf(tw, "  transmissions, over\t%d, %s\t%d in the first %s\n", st.Transmissions, realTime(st.Span), cr.Transmissions, realTime(cr.Span))
	fmt.Fprintf(tw, "  the application learns\t%s\t%s\n", st.Outcome, "stalled (shown as pending), "+cr.Outcome)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nThe stock node treats every flow alike. The Guard pauses while offline, reschedules on reconnect\n"+
		"(100 at once, then 50 per second), and fails bounded flows visibly; `mvdsqa outage` prints the full matrix.\n")
	if len(failures) > 0 {
		return &expectationError{msg: fmt.Sprintf("%d expectation(s) failed: %v", len(failures), failures)}
	}
	return nil
}

func reconnectCell(r sim.OutageResult) string {
	if r.ReconnectToAll < 0 {
		return fmt.Sprintf("never: %d dropped silently", r.Dropped)
	}
	return fmt.Sprintf("%d epochs (%s)", r.ReconnectToAll, realTime(r.ReconnectToAll))
}
