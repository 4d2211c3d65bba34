package mvds

import (
	"database/sql"
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/status-im/mvds/state"
)

// benchHook stands for a real owner of the hook: it looks at every due state
// and every attempt, and keeps a count in memory.
type benchHook struct {
	NopHook
	due, attempted int
}

func (h *benchHook) Due(int64, State) Decision { h.due++; return Decision{Action: Send} }
func (h *benchHook) Attempted(_ *sql.Tx, _ int64, s []State) error {
	h.attempted += len(s)
	return nil
}

// epochRatios holds the bare sync state's time per epoch for each scenario,
// so that the hooked run of the same scenario can report its ratio.
var epochRatios = map[string]float64{}

// BenchmarkEpoch measures one epoch of sync-state work — Map over the due
// states with mvds's own per-state processing (count + 1, next epoch on
// status-go's curve, payload built), then Clear — for mvds's SQLite sync
// state ("bare") and the hooked state, on the same database contents.
// "due=all" is a reconnect storm (every pending state due at once);
// "due=1%" is steady state.
func BenchmarkEpoch(b *testing.B) {
	for _, pending := range []int{10_000, 100_000} {
		for _, due := range []struct {
			name  string
			every int // one state in every is due
		}{{"all", 1}, {"1%", 100}} {
			scenario := fmt.Sprintf("pending=%d/due=%s", pending, due.name)
			for _, kind := range []string{"bare", "hooked"} {
				b.Run(scenario+"/"+kind, func(b *testing.B) {
					benchEpoch(b, scenario, kind, pending, due.every)
				})
			}
		}
	}
}

func benchEpoch(b *testing.B, scenario, kind string, pending, every int) {
	db := openFile(b, filepath.Join(b.TempDir(), "bench.db"))
	defer db.Close()
	if err := seedStates(db.sql, pending); err != nil {
		b.Fatal(err)
	}
	var ss state.SyncState
	if kind == "bare" {
		ss = state.NewPersistentSyncState(db.sql)
	} else {
		hs, err := newSyncState(db, &benchHook{}, func() int64 { return 1000 })
		if err != nil {
			b.Fatal(err)
		}
		hs.scanned = true // steady state: the start-up scan is done
		ss = hs
	}
	next := StockNextEpoch(rand.New(rand.NewSource(1<<20 ^ 1)).Intn)
	const epoch = 1000
	payload := make(map[PeerID][]MessageID)
	process := func(s State) State {
		payload[s.PeerID] = append(payload[s.PeerID], s.MessageID)
		s.SendCount++
		s.SendEpoch = next(s.SendCount, epoch)
		return s
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := db.sql.Exec(`UPDATE mvds_states SET send_count = 0,
			send_epoch = CASE WHEN rowid % ? = 0 THEN ? ELSE ? END`, every, epoch, 1<<40); err != nil {
			b.Fatal(err)
		}
		clear(payload)
		b.StartTimer()
		if err := ss.Map(epoch, process); err != nil {
			b.Fatal(err)
		}
		if err := ss.Clear(MaxSendCount); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(pending/every), "due_states")
	if kind == "bare" {
		epochRatios[scenario] = perOp
	} else if bare := epochRatios[scenario]; bare > 0 {
		b.ReportMetric(perOp/bare, "x_bare")
	}
}

// seedStates inserts n message states spread over 100 peers.
func seedStates(db *sql.DB, n int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.Prepare(`INSERT INTO mvds_states (type, send_count, send_epoch, group_id, peer_id, message_id) VALUES (?, 0, 0, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := 0; i < n; i++ {
		var msg MessageID
		var peer PeerID
		var group GroupID
		msg[0], msg[1], msg[2], msg[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		peer[0], peer[1] = 0x04, byte(i%100)
		group[0] = byte(i % 100)
		if _, err := stmt.Exec(state.MESSAGE, group[:], peer[:], msg[:]); err != nil {
			return err
		}
	}
	return tx.Commit()
}
