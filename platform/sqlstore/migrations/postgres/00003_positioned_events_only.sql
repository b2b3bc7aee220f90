-- +goose Up
-- An event is inserted without a cursor and given one after commit by the relay; only
-- positioned events are ever looked up by cursor. Indexing the NULL cursors of new events
-- made every write of every service update two indexes for nothing: these indexes now hold
-- positioned events only (a "cursor > $1" query implies it, so the planner uses them).
ALTER TABLE events DROP CONSTRAINT events_cursor_key; -- dialect: SQLite cannot drop a table constraint; it keeps it
CREATE UNIQUE INDEX events_cursor ON events (cursor) WHERE cursor IS NOT NULL; -- dialect: replaces the constraint SQLite keeps
DROP INDEX events_type_cursor;
CREATE INDEX events_type_cursor ON events (type, cursor) WHERE cursor IS NOT NULL;

-- +goose Down
DROP INDEX events_type_cursor;
CREATE INDEX events_type_cursor ON events (type, cursor);
DROP INDEX events_cursor; -- dialect: as above, undone
ALTER TABLE events ADD CONSTRAINT events_cursor_key UNIQUE (cursor); -- dialect: as above, undone
