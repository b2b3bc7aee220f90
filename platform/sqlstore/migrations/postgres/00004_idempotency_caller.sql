-- +goose Up
-- A request id is the caller's own: two callers who pick the same id (or one who replays
-- another's) must not get each other's response. The key is (method, caller, request_id);
-- ids recorded before this had no caller and keep the empty one until they expire.
-- dialect statement: PostgreSQL changes the primary key in place
ALTER TABLE idempotency_keys ADD COLUMN caller TEXT NOT NULL DEFAULT '';
-- dialect statement: PostgreSQL changes the primary key in place
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
-- dialect statement: PostgreSQL changes the primary key in place
ALTER TABLE idempotency_keys ADD PRIMARY KEY (method, caller, request_id);

-- +goose Down
-- dialect statement: PostgreSQL changes the primary key in place
DELETE FROM idempotency_keys WHERE caller <> '';
-- dialect statement: PostgreSQL changes the primary key in place
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
-- dialect statement: PostgreSQL changes the primary key in place
ALTER TABLE idempotency_keys ADD PRIMARY KEY (method, request_id);
-- dialect statement: PostgreSQL changes the primary key in place
ALTER TABLE idempotency_keys DROP COLUMN caller;
