package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/mvdsguard/mvdsguard/mvds"
)

// OutageResult is one cell of the outage matrix.
type OutageResult struct {
	Sender          Sender
	Messages        int
	OfflineEpochs   int64
	OfflineAttempts int64 // attempts counted against the messages while offline
	// ReconnectToAll is the number of epochs from reconnect until every
	// message was acknowledged; -1 when some never were.
	ReconnectToAll int64
	Delivered      int   // messages the recipient's application received
	Failed         int   // messages reported failed (Guard)
	Dropped        int   // messages lost without a word (stock, at its limit)
	Bound          int64 // Guard: 3 epochs plus the burst-limit spread
	Warps          int   // fast-forwards taken
	Wall           time.Duration
}

// Outage queues messages while the sender is offline, keeps it offline for
// offline epochs, reconnects it, and runs it until every message is
// acknowledged or dropped, or horizon epochs have passed.
func Outage(cfg Config, messages int, offline, horizon int64) (OutageResult, error) {
	began := time.Now()
	r, err := Start(cfg)
	if err != nil {
		return OutageResult{}, fmt.Errorf("outage run: %w", err)
	}
	defer r.Close()
	res := OutageResult{Sender: cfg.Sender, Messages: messages, OfflineEpochs: offline, ReconnectToAll: -1}
	if err := r.SetOnline(false); err != nil {
		return res, err
	}
	if err := r.Queue(messages); err != nil {
		return res, err
	}
	if err := r.Advance(r.Epoch() + offline); err != nil {
		return res, fmt.Errorf("offline phase: %w", err)
	}
	if res.OfflineAttempts, err = r.Attempts(); err != nil {
		return res, err
	}
	if cfg.Sender == Stock {
		// Nothing can be acknowledged offline, so a message with no state
		// left was deleted at mvds's limit, after its last transmission.
		pending, err := r.Pending()
		if err != nil {
			return res, err
		}
		res.OfflineAttempts += int64(messages-pending) * (mvds.MaxSendCount + 1)
	}
	reconnect := r.Epoch()
	if err := r.SetOnline(true); err != nil {
		return res, err
	}
	end, err := r.AdvanceUntil(reconnect+horizon, func() (bool, error) {
		p, err := r.Pending()
		return p == 0, err
	})
	if err != nil && !errors.Is(err, ErrLimit) {
		return res, fmt.Errorf("online phase: %w", err)
	}
	settled := err == nil
	// The recipient's application may still be handing the last messages over.
	deadline := time.Now().Add(5 * time.Second)
	for r.Received() < messages && time.Now().Before(deadline) {
		if p, _ := r.Pending(); p > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	res.Delivered = r.Received()
	if res.Failed, err = r.Failed(); err != nil {
		return res, err
	}
	if res.Dropped, err = r.DroppedSilently(); err != nil {
		return res, err
	}
	if settled && res.Delivered == messages {
		res.ReconnectToAll = end - reconnect
	}
	if cfg.Sender == Guarded {
		res.Bound = 3 + r.cfg.Burst.Spread(messages, r.cfg.Nominal)
	}
	res.Warps = r.Warps()
	res.Wall = time.Since(began)
	return res, nil
}
