package retry_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
)

func TestReconnectSpreadsPendingMessagesByTheBurstLimitCriticalFirst(t *testing.T) {
	var (
		mu    sync.Mutex
		guard atomic.Pointer[retry.Guard]
		first = map[mvds.MessageID]int64{} // first transmission epoch of each message
	)
	net := memtransport.New(1, memtransport.WithObserver(func(tr memtransport.Transmission) {
		g := guard.Load()
		if g == nil || tr.From != peerID(1) {
			return
		}
		epoch := g.Node().CurrentEpoch()
		mu.Lock()
		defer mu.Unlock()
		for _, m := range tr.Payload.Messages {
			if _, ok := first[m.ID()]; !ok {
				first[m.ID()] = epoch
			}
		}
	}))
	// 10 at once, then 500 per second: with 2 ms epochs, one per epoch.
	w := newWorldOn(t, net, retry.WithBurst(retry.Burst{Rate: 500, Size: 10}))
	guard.Store(w.ga)
	w.setOnline(false)
	ctx := context.Background()
	// Chat first, then contact requests: the requests must still go first.
	for i := 0; i < 30; i++ {
		w.send(fmt.Sprintf("chat-%02d", i), mvdsguard.OneToOne, retry.Content)
	}
	for i := 0; i < 20; i++ {
		w.send(fmt.Sprintf("cr-%02d", i), mvdsguard.ContactRequest, retry.Control)
	}
	from := w.ga.Node().CurrentEpoch()
	eventually(t, 10*time.Second, "a while offline", func() bool { return w.ga.Node().CurrentEpoch() > from+20 })
	w.net.Partition(w.a, w.b) // transmissions are seen, never acked
	w.setOnline(true)
	eventually(t, 10*time.Second, "every message's first transmission", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(first) == 50
	})
	perEpoch := map[int64]int{}
	var lastCR, firstChat int64 = -1, 1 << 62
	mu.Lock()
	defer mu.Unlock()
	for id, epoch := range first {
		perEpoch[epoch]++
		s, err := statusOfMvds(ctx, w, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Flow == mvdsguard.ContactRequest && epoch > lastCR {
			lastCR = epoch
		}
		if s.Flow == mvdsguard.OneToOne && epoch < firstChat {
			firstChat = epoch
		}
	}
	if lastCR > firstChat {
		t.Errorf("contact requests went out until epoch %d, chat from %d: critical flows must go first", lastCR, firstChat)
	}
	most := 0
	for _, n := range perEpoch {
		most = max(most, n)
	}
	if most != 10 || len(perEpoch) != 41 {
		t.Errorf("first transmissions in %d epochs, at most %d in one; want 41 epochs: 10 at once, then one per epoch", len(perEpoch), most)
	}
}

// statusOfMvds finds the tracked message an mvds message belongs to.
func statusOfMvds(ctx context.Context, w *world, id mvds.MessageID) (retry.MessageStatus, error) {
	all, err := w.ga.Pending(ctx, retry.Filter{Statuses: []mvdsguard.Status{mvdsguard.Pending, mvdsguard.Delivered, mvdsguard.Failed}})
	if err != nil {
		return retry.MessageStatus{}, err
	}
	for _, s := range all {
		for _, r := range s.Recipients {
			if r.MessageID == id {
				return s, nil
			}
		}
	}
	return retry.MessageStatus{}, fmt.Errorf("mvds message %x is not tracked", id[:4])
}

func TestMetricsCountWhatHappened(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := newWorld(t, retry.WithMetrics(reg), retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fastPolicy(1)))
	w.send("ok", mvdsguard.ContactRequest, retry.Control)
	eventually(t, 10*time.Second, "delivered", func() bool { return w.status("ok").Status == mvdsguard.Delivered })
	w.net.Partition(w.a, w.b)
	w.send("lost", mvdsguard.OneToOne, retry.Content)
	eventually(t, 10*time.Second, "failed", func() bool { return w.status("lost").Status == mvdsguard.Failed })
	want := `
# HELP mvdsguard_retry_delivered_total Recipients that acknowledged a tracked message, per flow.
# TYPE mvdsguard_retry_delivered_total counter
mvdsguard_retry_delivered_total{flow="contact_request"} 1
# HELP mvdsguard_retry_failed_total Messages that ended failed, per flow and reason.
# TYPE mvdsguard_retry_failed_total counter
mvdsguard_retry_failed_total{flow="one_to_one",reason="max_attempts"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mvdsguard_retry_delivered_total", "mvdsguard_retry_failed_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "mvdsguard_retry_time_to_ack_seconds"); n != 1 {
		t.Fatalf("time-to-ack series: %d", n)
	}

	// A Guard built again in the same process, on the same registry (status-go
	// logs out and in), counts on where the first left off.
	w.net.Heal(w.a, w.b)
	w.restartA()
	w.send("after restart", mvdsguard.ContactRequest, retry.Control)
	eventually(t, 10*time.Second, "delivered after the restart", func() bool { return w.status("after restart").Status == mvdsguard.Delivered })
	want = `
# HELP mvdsguard_retry_delivered_total Recipients that acknowledged a tracked message, per flow.
# TYPE mvdsguard_retry_delivered_total counter
mvdsguard_retry_delivered_total{flow="contact_request"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mvdsguard_retry_delivered_total"); err != nil {
		t.Fatal(err)
	}

	// Something else under the Guard's names is not silently taken over.
	other := prometheus.NewRegistry()
	other.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvdsguard_retry_sent_total", Help: "not ours"}))
	if _, err := retry.New(w.dbA, nil, w.a, retry.WithMetrics(other)); err == nil || !strings.Contains(err.Error(), "register retry metrics") {
		t.Fatalf("a registry holding another collector under the Guard's name: %v", err)
	}
}
