-- What the QA node itself remembers, beside mvds's tables and the Guard's
-- ledger: every message it was asked to send, per recipient, with the time
-- the recipient's ack was seen on the wire (stock nodes have no ledger, and
-- both kinds are timed the same way); every message its application received,
-- written in the transaction that hands it over (exactly once); and groups.
CREATE TABLE mvdsqa_sent (
	app_id     TEXT    NOT NULL,
	peer       BLOB    NOT NULL,
	mvds_id    BLOB    NOT NULL,
	chat_id    TEXT    NOT NULL,
	flow       INTEGER NOT NULL,
	kind       INTEGER NOT NULL,
	group_name TEXT    NOT NULL,
	sent_at    INTEGER NOT NULL, -- unix milliseconds, the machine's clock
	acked_at   INTEGER,          -- unix milliseconds, first ack seen on the wire
	PRIMARY KEY (app_id, peer)
);
CREATE INDEX mvdsqa_sent_by_mvds_id ON mvdsqa_sent (mvds_id, peer);

CREATE TABLE mvdsqa_received (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	app_id      TEXT    NOT NULL,
	mvds_id     BLOB    NOT NULL,
	sender      BLOB    NOT NULL,
	group_id    BLOB    NOT NULL,
	payload     BLOB    NOT NULL,
	received_at INTEGER NOT NULL
);

CREATE TABLE mvdsqa_groups (
	name     TEXT PRIMARY KEY,
	group_id BLOB NOT NULL,
	members  BLOB NOT NULL -- the members' 65-byte peer ids, concatenated
);
