-- +goose Up
-- The board's acknowledge and reply counts, like resolve_due_us: ack_due_us is the acknowledge
-- deadline of an open case its unit has not taken on yet, reply_due_us the reply deadline of
-- an open case whose resident has not heard back yet (NULL otherwise). clocks is 1 for a row
-- written by a build that keeps them; the service fills in older rows when it starts
-- (store.FillClocks).
ALTER TABLE cases ADD COLUMN ack_due_us BIGINT;
ALTER TABLE cases ADD COLUMN reply_due_us BIGINT;
ALTER TABLE cases ADD COLUMN clocks INTEGER NOT NULL DEFAULT 0;
-- Ranges at the low end, like cases_open_due: the overdue and due-soon counts.
CREATE INDEX cases_ack_due ON cases (ack_due_us) WHERE ack_due_us IS NOT NULL;
CREATE INDEX cases_reply_due ON cases (reply_due_us) WHERE reply_due_us IS NOT NULL;
-- The rows to fill in: only those of an older build.
CREATE INDEX cases_clocks_unset ON cases (name) WHERE clocks = 0;

-- +goose Down
DROP INDEX cases_clocks_unset;
DROP INDEX cases_reply_due;
DROP INDEX cases_ack_due;
ALTER TABLE cases DROP COLUMN clocks;
ALTER TABLE cases DROP COLUMN reply_due_us;
ALTER TABLE cases DROP COLUMN ack_due_us;
