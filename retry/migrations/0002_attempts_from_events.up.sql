-- The sent events are the one record of attempts, and a message's attempts
-- the one figure derived from them (its row's checkpoint plus the sent events
-- after it). The per-recipient copy is dropped.
ALTER TABLE retry_recipients DROP COLUMN attempts;
