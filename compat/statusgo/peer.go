package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
)

// epoch is the engine's epoch here: short, so that a message fails within a
// second rather than after status-go's minutes.
const epoch = 20 * time.Millisecond

// shortPolicy makes a one-to-one chat message fail after three
// unacknowledged attempts, within about half a second.
var shortPolicy = retry.Policy{Initial: 3 * epoch, Max: 6 * epoch, Multiplier: 2, MaxAttempts: 3}

// peer is one side of a conversation: a Guard on its own encrypted
// application database, joined to the in-process network.
type peer struct {
	name  string
	id    mvds.PeerID
	path  string
	key   string
	db    *mvds.DB
	guard *retry.Guard
	inbox *inbox
	sub   *retry.Subscription
	done  bool
}

// startPeer opens the encrypted database at path with key, adopts it with
// mvds.FromSQL and the ledger's schema, as status-go would adopt its
// application database, and starts a Guard on it. in receives what the
// application is handed; a restarted peer keeps its inbox.
func startPeer(net *memtransport.Network, name string, id mvds.PeerID, path, key string, in *inbox, logger *zap.Logger) (*peer, error) {
	sqlDB, err := openAppDB(path, key)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ledger, err := retry.Schema()
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	db, err := mvds.FromSQL(sqlDB, name+" application database", ledger)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ep, err := net.Join(id)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	guard, err := retry.New(db, ep, id,
		retry.WithNodeOptions(mvds.WithEpoch(epoch), mvds.WithHandler(in.handle)),
		retry.WithPolicy(mvdsguard.OneToOne, retry.Content, shortPolicy),
		retry.WithSweepInterval(epoch),
		retry.WithLogger(logger.Named(name)))
	if err != nil {
		ep.Close()
		db.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	sub, err := guard.Subscribe(0)
	if err != nil {
		guard.Close()
		db.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &peer{name: name, id: id, path: path, key: key, db: db, guard: guard, inbox: in, sub: sub}, nil
}

// stop closes the Guard and the database, as quitting the application does.
// Stopping again does nothing.
func (p *peer) stop() error {
	if p.done {
		return nil
	}
	p.done = true
	p.sub.Close()
	err := p.guard.Close()
	if cerr := p.db.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	return nil
}

// send sends a one-to-one chat message whose id and body are both body.
func (p *peer) send(ctx context.Context, to *peer, body string) error {
	err := p.guard.Send(ctx, retry.Outgoing{AppID: body, ChatID: to.name, Flow: mvdsguard.OneToOne,
		Kind: retry.Content, Peers: []mvds.PeerID{to.id}, Payload: []byte(body)})
	if err != nil {
		return fmt.Errorf("%s sends %q: %w", p.name, body, err)
	}
	return nil
}

// outcome waits for the message's next final event — delivered to every
// recipient, failed or discarded — and returns the message's status then.
func (p *peer) outcome(ctx context.Context, appID string) (retry.MessageStatus, error) {
	for {
		select {
		case <-ctx.Done():
			return retry.MessageStatus{}, fmt.Errorf("%s waits for the outcome of %q: %w", p.name, appID, ctx.Err())
		case e, ok := <-p.sub.Events():
			if !ok {
				return retry.MessageStatus{}, fmt.Errorf("%s waits for the outcome of %q: subscription ended: %v", p.name, appID, p.sub.Err())
			}
			final := e.Type == mvdsguard.EventDelivered || e.Type == mvdsguard.EventFailed || e.Type == mvdsguard.EventDiscarded
			if e.ID != appID || e.Peer != "" || !final {
				continue
			}
			s, err := p.guard.Status(ctx, appID)
			if err != nil {
				return retry.MessageStatus{}, fmt.Errorf("%s reads the status of %q: %w", p.name, appID, err)
			}
			return s, nil
		}
	}
}

// schemaVersions returns the version of every component's schema: mvds's as
// mvds's own migrations recorded it (if they ran) and as FromSQL recorded
// it, then the engine's and the ledger's.
func (p *peer) schemaVersions(ctx context.Context) (schemaVersions, error) {
	var v schemaVersions
	var err error
	if v.mvdsOwn, err = mvdsOwnVersion(ctx, p.db.SQL()); err != nil {
		return v, fmt.Errorf("%s: %w", p.name, err)
	}
	for _, c := range []struct {
		component string
		into      *int64
	}{{"mvds", &v.mvds}, {"engine", &v.engine}, {"retry", &v.ledger}} {
		if *c.into, err = p.db.SchemaVersion(ctx, c.component); err != nil {
			return v, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return v, nil
}

type schemaVersions struct {
	mvdsOwn int64 // mvds_schema_migrations, written by mvds's own migrations; 0 if they never ran
	mvds    int64 // mvdsguard_schema's "mvds" row, written when FromSQL applied mvds's migrations itself
	engine  int64
	ledger  int64
}

func (v schemaVersions) String() string {
	return fmt.Sprintf("mvds_schema_migrations %d, mvdsguard_schema mvds %d / engine %d / retry %d", v.mvdsOwn, v.mvds, v.engine, v.ledger)
}

// mvdsOwnVersion returns the version in mvds_schema_migrations, or 0 when
// the table does not exist.
func mvdsOwnVersion(ctx context.Context, db *sql.DB) (int64, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mvds_schema_migrations'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("look for mvds_schema_migrations: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	var v int64
	if err := db.QueryRowContext(ctx, `SELECT version FROM mvds_schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read mvds_schema_migrations: %w", err)
	}
	return v, nil
}

// inbox records which bodies the application was handed. A restarted peer
// keeps its inbox, so that a message handed before the restart counts.
type inbox struct {
	mu   sync.Mutex
	got  map[string]bool
	wake chan struct{} // closed and replaced on every arrival
}

func newInbox() *inbox { return &inbox{got: map[string]bool{}, wake: make(chan struct{})} }

// handle is the node's message handler. It may run again for the same
// message if its transaction rolls back; a set does not mind.
func (in *inbox) handle(_ context.Context, _ *sql.Tx, m mvds.Received) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.got[string(m.Body)] = true
	close(in.wake)
	in.wake = make(chan struct{})
	return nil
}

// await waits until body has been handed to the application.
func (in *inbox) await(ctx context.Context, body string) error {
	for {
		in.mu.Lock()
		got, wake := in.got[body], in.wake
		in.mu.Unlock()
		if got {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("wait for %q to arrive: %w", body, ctx.Err())
		}
	}
}
