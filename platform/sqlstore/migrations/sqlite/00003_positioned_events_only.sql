-- +goose Up
-- Only positioned events are looked up by type and cursor; new events (cursor NULL) need no
-- entry. (The cursor's own UNIQUE constraint is part of the table on SQLite and stays.)
DROP INDEX events_type_cursor;
CREATE INDEX events_type_cursor ON events (type, cursor) WHERE cursor IS NOT NULL;

-- +goose Down
DROP INDEX events_type_cursor;
CREATE INDEX events_type_cursor ON events (type, cursor);
