package retry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
)

var _ = memtransport.New

// TestSendRetryDiscardAndAcksFromManyGoroutines runs the Guard's actions
// side by side while acks arrive; the race detector watches, and the ledger
// must end consistent: every message delivered or discarded, each with one
// terminal event.
func TestSendRetryDiscardAndAcksFromManyGoroutines(t *testing.T) {
	w := newWorld(t, retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fastPolicy(2)),
		retry.WithPolicy(mvdsguard.ContactRequest, retry.Content, fastPolicy(0)))
	if err := w.net.SetFaults(memtransport.Faults{Loss: 0.3}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func(wk int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("w%d-%d", wk, i)
				flow := []mvdsguard.Flow{mvdsguard.OneToOne, mvdsguard.ContactRequest}[i%2]
				if err := w.ga.Send(ctx, retry.Outgoing{AppID: id, Flow: flow, Peers: []mvds.PeerID{w.b}, Payload: []byte(id)}); err != nil {
					errs <- err
					return
				}
				switch i % 5 {
				case 1:
					if err := w.ga.Discard(ctx, id); err != nil && !errors.Is(err, retry.ErrNotDiscardable) {
						errs <- err
					}
				case 2, 3:
					if err := w.ga.Retry(ctx, id); err != nil && !errors.Is(err, retry.ErrNotRetryable) {
						errs <- err
					}
				}
				if _, err := w.ga.Status(ctx, id); err != nil {
					errs <- err
				}
			}
		}(wk)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Failed chat messages get retried until they arrive; everything else
	// settles on its own.
	if err := w.net.SetFaults(memtransport.Faults{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "every message settled", func() bool {
		open, err := w.ga.Pending(ctx, retry.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range open {
			if s.Status == mvdsguard.Failed {
				if err := w.ga.Retry(ctx, s.AppID); err != nil && !errors.Is(err, retry.ErrNotRetryable) {
					t.Fatal(err)
				}
			}
		}
		return len(open) == 0
	})
	es := events(t, w.ga)
	terminal := map[string]int{}
	for _, e := range es {
		if e.Peer == "" && (e.Type == mvdsguard.EventDelivered || e.Type == mvdsguard.EventDiscarded) {
			terminal[e.ID]++
		}
	}
	for wk := 0; wk < workers; wk++ {
		for i := 0; i < each; i++ {
			id := fmt.Sprintf("w%d-%d", wk, i)
			if terminal[id] != 1 {
				t.Errorf("%s: %d terminal events; want 1", id, terminal[id])
			}
		}
	}
}
