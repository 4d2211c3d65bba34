package mvds

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"time"

	"github.com/status-im/mvds/node"
	"github.com/status-im/mvds/state"
	"github.com/status-im/mvds/transport"
)

// StockNode is an mvds node configured exactly as status-go's
// MessageSender.StartDatasync configures it today: BATCH mode, a 300 ms
// epoch, status-go's backoff curve with its jitter (StockNextEpoch), mvds's
// own SQLite sync state, which deletes a state after MaxSendCount
// transmissions without telling anyone, transport errors logged and
// swallowed, and a request for a message it does not have answered with
// mvds's error. It is the "before" column of every comparison.
//
// It does what every node does — the engine lock, the validated transport,
// the persisted epoch, the exactly-once inbox — and nothing that needs a
// Hook: mvds's sync state commits on its own connection, so there are no
// atomic operations (Update) and no reschedules.
//
// All methods are safe for concurrent use.
type StockNode struct {
	*mvdsNode
}

// stockOptions are the options that leave status-go's configuration intact.
var stockOptions = &optionSet{
	names:   []string{"WithEpoch", "WithHandler", "WithLogger", "knobs.JitterSource"},
	refusal: "a stock node runs status-go's configuration exactly (BATCH, status-go's curve, no Hook)",
}

// NewStockNode starts a node in status-go's configuration with identity id
// on db, exchanging packets through t; see StockNode. Like NewNode, it takes
// ownership of t and continues from the epoch it last reached on db.
//
// It accepts WithEpoch (to simulate long periods with short epochs),
// WithHandler and WithLogger, and refuses the options that would make it
// something other than status-go, naming them.
func NewStockNode(db *DB, t transport.Transport, id PeerID, opts ...Option) (*StockNode, error) {
	cfg, err := configure(db, t, id, stockOptions, opts)
	if err != nil {
		return nil, fmt.Errorf("new stock mvds node: %w", err)
	}
	m, epoch, err := prepare(db, id, cfg)
	if err != nil {
		return nil, fmt.Errorf("new stock mvds node: %w", err)
	}
	m.run(t, cfg, epoch, wiring{
		name:       "stock",
		mode:       Batch,
		nextEpoch:  StockNextEpoch(cfg.intn),
		state:      state.NewPersistentSyncState(db.sql),
		finishTx:   commitOrRollback,
		sendFailed: swallowSendErrors(m.logger),
	})
	return &StockNode{mvdsNode: m}, nil
}

// Append hands a message to mvds for every member of group and returns the
// id mvds gives it. mvds's own sync state commits on its own connection, so
// the message and its states are written as status-go writes them: one
// after the other, not in one transaction.
func (n *StockNode) Append(ctx context.Context, group GroupID, body []byte) (MessageID, error) {
	var id MessageID
	err := n.eng.op(ctx, false, true, func(*sql.Tx) error {
		if err := n.requirePeers(group); err != nil {
			return err
		}
		var err error
		id, err = n.node.AppendMessage(group, body)
		return err
	})
	if err != nil {
		return MessageID{}, fmt.Errorf("append to group %s: %w", ShortID(group[:]), err)
	}
	return id, nil
}

// StockEpoch is status-go's datasync ticker: one mvds epoch every 300 ms of
// running time (plus the time the epoch's work takes).
const StockEpoch = 300 * time.Millisecond

// stockStepEpochs is status-go's 30-second backoff unit in epochs. status-go
// converts seconds to epochs with the integer ratio 1 s / 300 ms = 3, so the
// "30 s" step is 90 epochs, about 27 s of running time.
const stockStepEpochs = 30 * int64(time.Second/StockEpoch)

// stockJitterEpochs is the exclusive upper bound of status-go's jitter.
const stockJitterEpochs = 30

// StockNextEpoch returns status-go's backoff curve: after the count-th
// transmission, the next one is due at
//
//	epoch + 2^(count-1) · 90 + jitter, jitter uniform in [0, 29]
//
// intn draws the jitter (nil uses math/rand's global source, as
// status-go's use of math/rand does).
func StockNextEpoch(intn func(n int) int) node.CalculateNextEpoch {
	if intn == nil {
		intn = rand.Intn
	}
	return func(count uint64, epoch int64) int64 {
		return epoch + StockBackoff(count) + int64(intn(stockJitterEpochs))
	}
}

// StockBackoff is the deterministic part of status-go's curve: 2^(count-1) ·
// 90 epochs. Counts beyond 40 are held at 2^39 · 90, far beyond any real
// schedule, so that the shift cannot overflow.
func StockBackoff(count uint64) int64 {
	if count == 0 {
		count = 1
	}
	if count > 40 {
		count = 40
	}
	return (int64(1) << (count - 1)) * stockStepEpochs
}
