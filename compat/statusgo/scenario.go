package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
)

const (
	senderKey    = "sender's passphrase"
	recipientKey = "recipient's passphrase"
)

// waitLimit bounds every wait for an outcome.
const waitLimit = 30 * time.Second

func peerID(b byte) mvds.PeerID {
	var p mvds.PeerID
	p[0], p[1] = 0x04, b // an uncompressed public key's prefix, then a name
	return p
}

// run is the whole check: two Guards on encrypted application databases,
// one set up as status-go leaves it and one fresh, exchange a message, see
// one fail while the recipient is away and deliver it on Retry once the
// recipient is back; status-go's next start then finds its mvds migrations
// done, and neither file can be read without its key. It writes what
// happened to out and returns the first check that did not hold.
func run(ctx context.Context, dir string, out io.Writer, logger *zap.Logger) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	senderPath := filepath.Join(dir, "sender.db")
	recipientPath := filepath.Join(dir, "recipient.db")
	for _, p := range []string{senderPath, recipientPath} {
		switch _, err := os.Stat(p); {
		case err == nil:
			return fmt.Errorf("%s exists already: give a directory without it", p)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("check %s: %w", p, err)
		}
	}

	version, cipher, err := prepareStatusGoDB(senderPath, senderKey)
	if err != nil {
		return err
	}
	say("sender: %s created as status-go creates its application database: SQLCipher %s, key and cipher settings on every connection, mvds's own migrations applied (mvds_schema_migrations at %d)",
		senderPath, cipher, version)

	net := memtransport.New(1)
	defer net.Close()
	sender, err := startPeer(net, "sender", peerID(1), senderPath, senderKey, newInbox(), logger)
	if err != nil {
		return err
	}
	defer func() { _ = sender.stop() }()
	v, err := sender.schemaVersions(ctx)
	if err != nil {
		return err
	}
	if v.mvdsOwn != version || v.mvds != 0 || v.engine == 0 || v.ledger == 0 {
		return fmt.Errorf("sender: schema versions after mvds.FromSQL: %s; want mvds's recorded by its own migrations only, engine and retry applied", v)
	}
	say("sender: adopted with mvds.FromSQL(db, name, retry.Schema()): mvds's migrations recognised, not applied again; %s", v)

	recipientInbox := newInbox()
	recipient, err := startPeer(net, "recipient", peerID(2), recipientPath, recipientKey, recipientInbox, logger)
	if err != nil {
		return err
	}
	defer func() { _ = recipient.stop() }()
	if v, err = recipient.schemaVersions(ctx); err != nil {
		return err
	}
	if v.mvdsOwn != version || v.mvds != version || v.engine == 0 || v.ledger == 0 {
		return fmt.Errorf("recipient: schema versions after mvds.FromSQL: %s; want mvds's applied by FromSQL at %d and recorded where mvds's own migrations look too", v, version)
	}
	say("recipient: %s a fresh encrypted file; mvds.FromSQL applied everything and recorded mvds's version for mvds's own migrations: %s", recipientPath, v)

	if err := deliver(ctx, sender, recipient, "hello"); err != nil {
		return err
	}
	s, err := sender.guard.Status(ctx, "hello")
	if err != nil {
		return err
	}
	say("delivered: %q after %d attempt(s), %v from send to acknowledgement", "hello", s.Attempts, s.FinishedAt.Sub(s.CreatedAt).Round(time.Millisecond))

	// The recipient quits and does not come back while the sender tries.
	if err := recipient.stop(); err != nil {
		return err
	}
	net.SetOnline(recipient.id, false)
	s, err = failWhileAway(ctx, sender, recipient, "while-away")
	if err != nil {
		return err
	}
	say("failed: %q after %d attempts to an absent recipient (reason %s, retryable %t), %v after it was sent",
		"while-away", s.Attempts, s.Reason, s.Retryable, s.FinishedAt.Sub(s.CreatedAt).Round(time.Millisecond))

	// The recipient starts again on its encrypted file; the user presses retry.
	net.SetOnline(recipient.id, true)
	if recipient, err = startPeer(net, "recipient", recipient.id, recipientPath, recipientKey, recipientInbox, logger); err != nil {
		return err
	}
	start := time.Now()
	if err := retryDelivers(ctx, sender, recipient, "while-away"); err != nil {
		return err
	}
	say("delivered after Retry: %q, %v after the retry, once the recipient had restarted on its encrypted file",
		"while-away", time.Since(start).Round(time.Millisecond))

	if err := recipient.stop(); err != nil {
		return err
	}
	if err := sender.stop(); err != nil {
		return err
	}
	if err := restartLikeStatusGo(senderPath, senderKey, version); err != nil {
		return err
	}
	say("sender: status-go's next start: mvds's own migrations find nothing to do (still at %d); mvds.FromSQL finds nothing to do", version)

	for _, f := range []struct{ path, key string }{{senderPath, senderKey}, {recipientPath, recipientKey}} {
		told, err := checkEncrypted(f.path, f.key)
		if err != nil {
			return err
		}
		say("on disk: %s does not begin with \"SQLite format 3\"; without the key: %q; with a wrong key: refused", filepath.Base(f.path), told)
	}
	return nil
}

// prepareStatusGoDB creates the encrypted database status-go would have
// before it adopts the Guard: mvds's tables, made by mvds's own migrations.
// It returns the mvds version reached and SQLCipher's version.
func prepareStatusGoDB(path, key string) (int64, string, error) {
	db, err := openAppDB(path, key)
	if err != nil {
		return 0, "", err
	}
	defer db.Close()
	version, err := migrateLikeStatusGo(db)
	if err != nil {
		return 0, "", fmt.Errorf("prepare %s: %w", path, err)
	}
	cipher, err := cipherVersion(db)
	if err != nil {
		return 0, "", fmt.Errorf("prepare %s: %w", path, err)
	}
	return version, cipher, nil
}

// restartLikeStatusGo opens an adopted database as status-go's next start
// would: mvds's own migrations first, which must find nothing to do, then
// mvds.FromSQL again.
func restartLikeStatusGo(path, key string, version int64) error {
	db, err := openAppDB(path, key)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	got, err := migrateLikeStatusGo(db)
	if err != nil {
		db.Close()
		return fmt.Errorf("restart on %s: %w", path, err)
	}
	if got != version {
		db.Close()
		return fmt.Errorf("restart on %s: mvds_schema_migrations went from %d to %d", path, version, got)
	}
	ledger, err := retry.Schema()
	if err != nil {
		db.Close()
		return fmt.Errorf("restart: %w", err)
	}
	adopted, err := mvds.FromSQL(db, "sender application database", ledger)
	if err != nil {
		db.Close()
		return fmt.Errorf("restart on %s: %w", path, err)
	}
	return adopted.Close()
}

// deliver sends body from one peer to another and waits until the sender
// sees it delivered and the recipient's application has it.
func deliver(ctx context.Context, from, to *peer, body string) error {
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := from.send(ctx, to, body); err != nil {
		return err
	}
	s, err := from.outcome(ctx, body)
	if err != nil {
		return err
	}
	if s.Status != mvdsguard.Delivered {
		return fmt.Errorf("%q ended %s (reason %q); want delivered", body, s.Status, s.Reason)
	}
	if err := to.inbox.await(ctx, body); err != nil {
		return fmt.Errorf("%s: %w", to.name, err)
	}
	return nil
}

// failWhileAway sends body to a recipient that is gone and waits for it to
// fail: shortPolicy's attempts, all unacknowledged, and a retry button.
func failWhileAway(ctx context.Context, from, to *peer, body string) (retry.MessageStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := from.send(ctx, to, body); err != nil {
		return retry.MessageStatus{}, err
	}
	s, err := from.outcome(ctx, body)
	if err != nil {
		return s, err
	}
	if s.Status != mvdsguard.Failed || s.Reason != mvdsguard.ReasonMaxAttempts || !s.Retryable || s.Attempts != shortPolicy.MaxAttempts {
		return s, fmt.Errorf("%q ended %s after %d attempts (reason %q, retryable %t); want failed after %d attempts, reason %s, retryable",
			body, s.Status, s.Attempts, s.Reason, s.Retryable, shortPolicy.MaxAttempts, mvdsguard.ReasonMaxAttempts)
	}
	return s, nil
}

// retryDelivers retries a failed message and waits until it is delivered
// and handed to the recipient's application.
func retryDelivers(ctx context.Context, from, to *peer, body string) error {
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := from.guard.Retry(ctx, body); err != nil {
		return fmt.Errorf("%s retries %q: %w", from.name, body, err)
	}
	s, err := from.outcome(ctx, body)
	if err != nil {
		return err
	}
	if s.Status != mvdsguard.Delivered {
		return fmt.Errorf("%q ended %s (reason %q) after Retry; want delivered", body, s.Status, s.Reason)
	}
	if err := to.inbox.await(ctx, body); err != nil {
		return fmt.Errorf("%s: %w", to.name, err)
	}
	return nil
}
