package retry

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // tests only: the package itself links no driver
	"github.com/status-im/mvds/state"
	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/internal/knobs"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

// benchGuard is a Guard whose node never reaches an epoch during the
// benchmark (a one-hour epoch), so that only the measured calls touch the
// database.
func benchGuard(b *testing.B, db *mvds.DB, online bool) *Guard {
	b.Helper()
	net := memtransport.New(1)
	ep, err := net.Join(benchSelf)
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(db, ep, benchSelf, WithNodeOptions(mvds.WithEpoch(time.Hour)),
		WithConnectivity(NewManual(online)), WithWakeDetection(0, 0), WithSweepInterval(time.Hour),
		knobs.GuardOption(knobs.Guard{EpochLength: mvds.StockEpoch, NoRescheduleOnStart: true}).(Option), WithLogger(zap.NewNop()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g
}

var (
	benchSelf = mvds.PeerID{0x04, 1}
	benchPeer = mvds.PeerID{0x04, 2}
)

// seedTracked inserts n tracked contact requests to benchPeer, each with a
// due mvds state, as Send would leave them (without n appends).
func seedTracked(db *mvds.DB, n int) error {
	tx, err := db.SQL().Begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	group := pairGroup(benchSelf, benchPeer)
	if _, err := tx.Exec(`INSERT INTO mvds_peers (group_id, peer_id) VALUES (?, ?)`, group[:], benchPeer[:]); err != nil {
		return err
	}
	stmts := map[string]*sql.Stmt{}
	for name, q := range map[string]string{
		"msg":   `INSERT INTO mvds_messages (id, group_id, timestamp, body) VALUES (?, ?, 0, ?)`,
		"state": `INSERT INTO mvds_states (type, send_count, send_epoch, group_id, peer_id, message_id) VALUES (?, 0, 0, ?, ?, ?)`,
		"led":   `INSERT INTO retry_messages (app_id, chat_id, flow, kind, status, recipients, created_at) VALUES (?, 'chat', ?, ?, ?, 1, ?)`,
		"rcp":   `INSERT INTO retry_recipients (mvds_id, peer, app_id, status) VALUES (?, ?, ?, ?)`,
	} {
		s, err := tx.Prepare(q)
		if err != nil {
			return err
		}
		defer s.Close()
		stmts[name] = s
	}
	now := time.Now().UnixMilli()
	for i := 0; i < n; i++ {
		var id mvds.MessageID
		binary.BigEndian.PutUint64(id[:], uint64(i)+1)
		app := fmt.Sprintf("app-%07d", i)
		for _, step := range []struct {
			s    *sql.Stmt
			args []any
		}{
			{stmts["msg"], []any{id[:], group[:], []byte(app)}},
			{stmts["state"], []any{state.MESSAGE, group[:], benchPeer[:], id[:]}},
			{stmts["led"], []any{app, int(mvdsguard.ContactRequest), int(Control), stPending, now}},
			{stmts["rcp"], []any{id[:], benchPeer[:], app, stPending}},
		} {
			if _, err := step.s.Exec(step.args...); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

func benchDB(b *testing.B, pending int) *mvds.DB {
	b.Helper()
	ledger, err := Schema()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := sql.Open("sqlite3", "file:"+strings.ReplaceAll(filepath.Join(b.TempDir(), "bench.db"), "%", "%25")+"?_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db, err := mvds.FromSQL(raw, "bench.db", ledger)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := seedTracked(db, pending); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkEventAppendPublish measures the event log end to end: events
// written in transactions of perTx events (one epoch's attempts, or a single
// transition), committed, published, and read by a live subscriber. The
// metric is events per second until the subscriber has them all.
func BenchmarkEventAppendPublish(b *testing.B) {
	for _, perTx := range []int{1, 100} {
		b.Run(fmt.Sprintf("per_tx=%d", perTx), func(b *testing.B) {
			db := benchDB(b, 1)
			g := benchGuard(b, db, true)
			sub, err := g.Subscribe(0)
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			want := b.N * perTx
			got := make(chan struct{})
			go func() {
				n := 0
				for e := range sub.Events() {
					if e.Type == mvdsguard.EventSent {
						if n++; n == want {
							close(got)
							return
						}
					}
				}
			}()
			ctx := context.Background()
			now := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				err := g.node.Update(ctx, func(op *mvds.Op) error {
					for j := 0; j < perTx; j++ {
						if err := g.ledger.event(op.Tx(), mvdsguard.EventSent, "app-0000000", benchPeer[:], "", false, now); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			<-got
			b.StopTimer()
			b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkRescheduleOnReconnect measures what a reconnect does with n
// pending tracked messages: every state moved to its burst-limited slot,
// critical flows first, with one rescheduled event per message, in one
// transaction.
func BenchmarkRescheduleOnReconnect(b *testing.B) {
	for _, pending := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			db := benchDB(b, pending)
			g := benchGuard(b, db, true)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if _, err := db.SQL().Exec(`UPDATE mvds_states SET send_epoch = ?`, 1<<40); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				moved, err := g.RescheduleAll(ctx, mvdsguard.ReasonReconnect)
				if err != nil {
					b.Fatal(err)
				}
				if moved != pending {
					b.Fatalf("moved %d of %d", moved, pending)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(pending)*float64(b.N)/b.Elapsed().Seconds(), "states/s")
		})
	}
}

var guardEpochBare = map[string]float64{}

// BenchmarkEpochGuardVsBare is one epoch's sync-state work (as
// mvds.BenchmarkEpoch) with the Guard as the hook — its policy decision per
// due state, its ledger updates and a sent event per attempt — against
// mvds's own SQLite sync state on the same contents, as a ratio.
func BenchmarkEpochGuardVsBare(b *testing.B) {
	for _, pending := range []int{10_000, 100_000} {
		for _, due := range []struct {
			name  string
			every int
		}{{"all", 1}, {"1%", 100}} {
			scenario := fmt.Sprintf("pending=%d/due=%s", pending, due.name)
			for _, kind := range []string{"bare", "guard"} {
				b.Run(scenario+"/"+kind, func(b *testing.B) {
					db := benchDB(b, pending)
					var (
						ss   state.SyncState
						g    *Guard
						ckpt time.Duration
					)
					if kind == "bare" {
						ss = state.NewPersistentSyncState(db.SQL())
					} else {
						g = benchGuard(b, db, true)
						var err error
						if ss, err = knobs.SyncState(db, engineHook{g}, func() int64 { return 1000 }); err != nil {
							b.Fatal(err)
						}
					}
					next := mvds.StockNextEpoch(rand.New(rand.NewSource(1<<20 ^ 1)).Intn)
					payload := map[mvds.PeerID][]mvds.MessageID{}
					process := func(s mvds.State) mvds.State {
						payload[s.PeerID] = append(payload[s.PeerID], s.MessageID)
						s.SendCount++
						s.SendEpoch = next(s.SendCount, 1000)
						return s
					}
					// The first Clear scans every state once; do it outside the timer.
					if err := ss.Clear(mvds.MaxSendCount); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						if _, err := db.SQL().Exec(`UPDATE mvds_states SET send_count = 0,
							send_epoch = CASE WHEN rowid % ? = 0 THEN 1000 ELSE ? END`, due.every, 1<<40); err != nil {
							b.Fatal(err)
						}
						clear(payload)
						b.StartTimer()
						if err := ss.Map(1000, process); err != nil {
							b.Fatal(err)
						}
						if err := ss.Clear(mvds.MaxSendCount); err != nil {
							b.Fatal(err)
						}
						if g != nil {
							// The ledger rows catch up at the next checkpoint
							// (the sweeper's); timed apart, reported beside.
							b.StopTimer()
							start := time.Now()
							if err := g.node.Update(context.Background(), func(op *mvds.Op) error { return g.ledger.checkpoint(op.Tx(), false) }); err != nil {
								b.Fatal(err)
							}
							ckpt += time.Since(start)
							b.StartTimer()
						}
					}
					b.StopTimer()
					if g != nil {
						b.ReportMetric(float64(ckpt.Milliseconds())/float64(b.N), "checkpoint_ms")
					}
					perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					if kind == "bare" {
						guardEpochBare[scenario] = perOp
					} else if bare := guardEpochBare[scenario]; bare > 0 {
						b.ReportMetric(perOp/bare, "x_bare")
					}
				})
			}
		}
	}
}
