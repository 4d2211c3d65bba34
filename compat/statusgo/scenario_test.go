package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))
}

// startTestPeer starts a peer on a fresh encrypted database in the test's
// directory and stops it when the test ends.
func startTestPeer(t *testing.T, net *memtransport.Network, name string, id byte, path string) *peer {
	t.Helper()
	p, err := startPeer(net, name, peerID(id), path, name+"'s key", newInbox(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// adoptOnce runs a Guard on the encrypted file at path (mvds.FromSQL adopts
// it) and stops it: what the database looks like after status-go's first
// run with the Guard.
func adoptOnce(t *testing.T, path, key string) {
	t.Helper()
	net := memtransport.New(1)
	defer net.Close()
	p, err := startPeer(net, "app", peerID(1), path, key, newInbox(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
}

// pair is a sender and a recipient, each on a fresh encrypted database.
func pair(t *testing.T) (*memtransport.Network, *peer, *peer) {
	t.Helper()
	dir := t.TempDir()
	net := memtransport.New(1)
	t.Cleanup(net.Close)
	sender := startTestPeer(t, net, "sender", 1, filepath.Join(dir, "sender.db"))
	recipient := startTestPeer(t, net, "recipient", 2, filepath.Join(dir, "recipient.db"))
	return net, sender, recipient
}

func TestStatusGoDatabaseIsAdoptedWithoutApplyingMvdsMigrationsAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	version, _, err := prepareStatusGoDB(path, "app key")
	if err != nil {
		t.Fatal(err)
	}
	net := memtransport.New(1)
	defer net.Close()

	p, err := startPeer(net, "app", peerID(1), path, "app key", newInbox(), testLogger(t))
	if err != nil {
		t.Fatalf("adopting a database that mvds's own migrations made: %v", err)
	}
	defer p.stop()

	v, err := p.schemaVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.mvdsOwn != version || v.mvds != 0 || v.engine != 1 || v.ledger != 2 {
		t.Fatalf("schema versions %s; want mvds_schema_migrations at %d and no mvds row of ours, engine 1, retry 2", v, version)
	}
}

func TestStatusGosNextStartFindsMvdsMigrationsDoneOnAnAdoptedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	version, _, err := prepareStatusGoDB(path, "app key")
	if err != nil {
		t.Fatal(err)
	}
	adoptOnce(t, path, "app key")

	if err := restartLikeStatusGo(path, "app key", version); err != nil {
		t.Fatal(err)
	}
}

func TestMvdsOwnMigrationsFindNothingToDoWhereFromSQLMadeMvdsTables(t *testing.T) {
	// The other order: mvds.FromSQL creates mvds's tables on a fresh file,
	// then status-go starts and runs mvds's own migrations, as it does on
	// every start. FromSQL records mvds's version where golang-migrate looks
	// too, so they find nothing to do — twice — instead of failing on tables
	// that exist and leaving the database marked dirty.
	path := filepath.Join(t.TempDir(), "app.db")
	adoptOnce(t, path, "app key")
	db, err := openAppDB(path, "app key")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var version int64
	for run := 1; run <= 2; run++ {
		if version, err = migrateLikeStatusGo(db); err != nil {
			t.Fatalf("mvds's own migrations, start %d after FromSQL made mvds's tables: %v", run, err)
		}
	}
	if version != mvdsSchemaVersion {
		t.Fatalf("mvds_schema_migrations says %d; want mvds's latest migration %d", version, mvdsSchemaVersion)
	}
	if err := restartLikeStatusGo(path, "app key", version); err != nil {
		t.Fatal(err)
	}
}

func TestMessageBetweenEncryptedDatabasesIsDelivered(t *testing.T) {
	_, sender, recipient := pair(t)

	if err := deliver(context.Background(), sender, recipient, "hello"); err != nil {
		t.Fatal(err)
	}
}

func TestMessageToARecipientThatIsGoneFailsAndRetryDeliversItOnItsReturn(t *testing.T) {
	net, sender, recipient := pair(t)
	ctx := context.Background()
	if err := recipient.stop(); err != nil {
		t.Fatal(err)
	}
	net.SetOnline(recipient.id, false)

	s, err := failWhileAway(ctx, sender, recipient, "while-away")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Recipients) != 1 || s.Recipients[0].Status != mvdsguard.Failed {
		t.Fatalf("recipients %+v; want the one recipient failed", s.Recipients)
	}

	net.SetOnline(recipient.id, true)
	back := startTestPeer(t, net, "recipient", 2, recipient.path)
	if err := retryDelivers(ctx, sender, back, "while-away"); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptedDatabaseCannotBeReadWithoutItsKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	if _, _, err := prepareStatusGoDB(path, "app key"); err != nil {
		t.Fatal(err)
	}

	told, err := checkEncrypted(path, "app key")

	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(told, "not a database") {
		t.Fatalf("opening without the key said %q; want SQLCipher's \"file is not a database\"", told)
	}
}

func TestWrongKeyIsRefusedWhenOpening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	if _, _, err := prepareStatusGoDB(path, "app key"); err != nil {
		t.Fatal(err)
	}

	db, err := openAppDB(path, "another key")

	if err == nil {
		db.Close()
		t.Fatal("an encrypted database opened with another key")
	}
	if strings.Contains(err.Error(), "another key") || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q; want the file named and the key left out", err)
	}
}

func TestCheckEncryptedRejectsAPlaintextFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain.db")
	if _, _, err := prepareStatusGoDB(path, ""); err != nil {
		t.Fatal(err)
	}

	_, err := checkEncrypted(path, "")

	if err == nil || !strings.Contains(err.Error(), "not encrypted") {
		t.Fatalf("check of a database with an empty key (SQLCipher's plaintext): %v; want it reported as not encrypted", err)
	}
}

// mvdsSchemaVersion is the latest migration of the pinned mvds (its
// timestamp), the version mvds's own migrations record.
const mvdsSchemaVersion = 1718939515
