-- One row per tracked message. Times are unix milliseconds; 0 means "not yet"
-- (or "never" for stall_at and deadline_at). status: 1 pending, 2 delivered,
-- 3 failed, 4 discarded (mvdsguard.Status).
--
-- attempts, first_attempt_at and last_attempt_at are a checkpoint: they
-- include every sent event up to counted_seq. The event log is the record;
-- an attempt appends only its sent event, and the row catches up at the next
-- checkpoint (so an epoch with many attempts writes sequentially).
CREATE TABLE retry_messages (
    app_id           TEXT    PRIMARY KEY,
    chat_id          TEXT    NOT NULL DEFAULT '',
    flow             INTEGER NOT NULL,
    kind             INTEGER NOT NULL,
    status           INTEGER NOT NULL,
    stalled          INTEGER NOT NULL DEFAULT 0,
    recipients       INTEGER NOT NULL,
    delivered        INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    first_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    reason           TEXT    NOT NULL DEFAULT '',
    stall_at         INTEGER NOT NULL DEFAULT 0,
    deadline_at      INTEGER NOT NULL DEFAULT 0,
    finished_at      INTEGER NOT NULL DEFAULT 0,
    counted_seq      INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX retry_messages_chat ON retry_messages (chat_id);
CREATE INDEX retry_messages_open ON retry_messages (status) WHERE status IN (1, 3);
CREATE INDEX retry_messages_stall ON retry_messages (stall_at) WHERE status = 1 AND stalled = 0 AND stall_at > 0;
CREATE INDEX retry_messages_deadline ON retry_messages (deadline_at) WHERE status = 1 AND deadline_at > 0;

-- One row per (mvds message, recipient). A message sent to several peers
-- one-to-one has one mvds message per peer; a message appended to an mvds
-- group has one mvds message and a row per member.
CREATE TABLE retry_recipients (
    mvds_id      BLOB    NOT NULL,
    peer         BLOB    NOT NULL,
    app_id       TEXT    NOT NULL REFERENCES retry_messages (app_id),
    status       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    fail_at      INTEGER NOT NULL DEFAULT 0, -- attempts exhausted: failed unless acknowledged by then
    delivered_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (mvds_id, peer)
) WITHOUT ROWID;

CREATE INDEX retry_recipients_app ON retry_recipients (app_id);
CREATE INDEX retry_recipients_fail ON retry_recipients (fail_at) WHERE status = 1 AND fail_at > 0;

-- The append-only event log. seq never goes back and is never reused
-- (AUTOINCREMENT), so a subscriber resumes after the last seq it handled.
-- Times are unix seconds, as in the GUI contract.
CREATE TABLE retry_events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    type             INTEGER NOT NULL,
    app_id           TEXT    NOT NULL,
    chat_id          TEXT    NOT NULL,
    flow             INTEGER NOT NULL,
    peer             BLOB,
    attempts         INTEGER NOT NULL,
    first_attempt_at INTEGER NOT NULL,
    last_attempt_at  INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    reason           TEXT    NOT NULL DEFAULT '',
    retryable        INTEGER NOT NULL DEFAULT 0
);
