-- +goose Up
-- A consumer watching a few event types (the demand service follows partner's
-- ActivityRecorded only) reads them in cursor order from here, instead of stepping over every
-- other event since its cursor on each wake-up — which, while none of its type had come,
-- was the whole table on every write.
CREATE INDEX events_type_cursor ON events (type, cursor);

-- +goose Down
DROP INDEX events_type_cursor;
