-- The identity of the node that owns this database. mvds's tables are not
-- keyed by node, so one database must never serve two identities.
CREATE TABLE mvdsguard_node (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    peer_id   BLOB NOT NULL
);

-- Messages received from peers, in arrival order, each recorded once. A row
-- is handed to the application until its handler succeeds; handled rows stay
-- so that a retransmitted message is never handed over twice.
CREATE TABLE mvdsguard_inbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id     BLOB    NOT NULL UNIQUE,
    group_id       BLOB    NOT NULL,
    sender         BLOB    NOT NULL,
    received_epoch INTEGER NOT NULL,
    received_at    INTEGER NOT NULL, -- unix milliseconds
    handled        INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX mvdsguard_inbox_unhandled ON mvdsguard_inbox (seq) WHERE handled = 0;
