-- +goose Up
-- A request id is the caller's own: two callers who pick the same id (or one who replays
-- another's) must not get each other's response. The key is (method, caller, request_id);
-- ids recorded before this had no caller and keep the empty one until they expire.
ALTER TABLE idempotency_keys ADD COLUMN caller TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (method, caller, request_id);

-- +goose Down
DELETE FROM idempotency_keys WHERE caller <> '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (method, request_id);
ALTER TABLE idempotency_keys DROP COLUMN caller;
