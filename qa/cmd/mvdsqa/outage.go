package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/internal/sim"
	"github.com/mvdsguard/mvdsguard/retry"
)

type outageConfig struct {
	demoConfig
	outages []time.Duration
}

// runOutage prints the outage matrix: messages queued while offline for each
// outage, stock and guarded side by side, with ratios.
func runOutage(cfg outageConfig, out io.Writer) error {
	wd, err := newWorkdir(cfg.keep, out)
	if err != nil {
		return err
	}
	defer wd.close()
	fmt.Fprintf(out, "Outage matrix: %d contact requests queued while the sender is offline, then it reconnects.\n", cfg.messages)
	fmt.Fprintf(out, "Epochs are status-go's %v (simulated in %v, fast-forwarded where nothing is due); seed %d.\n\n", nominal, cfg.epoch, cfg.seed)
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "offline\tstock: attempts offline\tstock: reconnect → all acked\tstock: dropped silently\t"+
		"guarded: attempts offline\tguarded: reconnect → all acked\tguarded: bound\tguarded/stock\twall (s)\t\n")
	var failures []string
	rows, err := outageMatrix(cfg, wd)
	if err != nil {
		return err
	}
	for _, row := range rows {
		d, st, gu := row.offline, row.stock, row.guarded
		ratio := "∞ (stock never delivers)"
		if st.ReconnectToAll > 0 {
			ratio = fmt.Sprintf("%.4f", float64(gu.ReconnectToAll)/float64(st.ReconnectToAll))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t%d\t%s\t%.1f\t\n", label(d), st.OfflineAttempts, reconnectCell(st), st.Dropped,
			gu.OfflineAttempts, reconnectCell(gu), gu.Bound, ratio, (st.Wall + gu.Wall).Seconds())
		if gu.OfflineAttempts != 0 || gu.Dropped != 0 || gu.ReconnectToAll < 0 || gu.ReconnectToAll > gu.Bound+schedulingSlack {
			failures = append(failures, fmt.Sprintf("guarded after %s offline: %+v", label(d), gu))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nbound = 3 epochs + the burst-limit spread (100 at once, then 50/s); no transport latency in-process.\n")
	if len(failures) > 0 {
		return &expectationError{msg: fmt.Sprintf("%v", failures)}
	}
	return nil
}

// outageRow is one outage of the matrix, both senders.
type outageRow struct {
	offline        time.Duration
	stock, guarded sim.OutageResult
}

// outageMatrix runs every outage of cfg on a stock and a guarded sender.
func outageMatrix(cfg outageConfig, wd *workdir) ([]outageRow, error) {
	var rows []outageRow
	for _, d := range cfg.outages {
		row := outageRow{offline: d}
		for _, s := range []sim.Sender{sim.Stock, sim.Guarded} {
			dir, err := wd.sub("matrix")
			if err != nil {
				return nil, err
			}
			r, err := sim.Outage(sim.Config{Dir: dir, Sender: s, Epoch: cfg.epoch, Seed: cfg.seed,
				Flow: mvdsguard.ContactRequest, Kind: retry.Control}, cfg.messages, epochsOf(d), epochsOf(11*24*time.Hour))
			if err != nil {
				return nil, fmt.Errorf("outage of %v, %s: %w", d, s, err)
			}
			if s == sim.Stock {
				row.stock = r
			} else {
				row.guarded = r
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func label(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		days := int(d / (24 * time.Hour))
		if days%7 == 0 {
			return fmt.Sprintf("%d weeks", days/7)
		}
		return fmt.Sprintf("%d days", days)
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
}
