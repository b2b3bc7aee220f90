-- +goose Up
-- A request id is the caller's own: two callers who pick the same id (or one who replays
-- another's) must not get each other's response. The key is (method, caller, request_id);
-- ids recorded before this had no caller and keep the empty one until they expire. SQLite
-- cannot change a primary key in place, so the table is rebuilt.
-- dialect statement: SQLite rebuilds the table to change its primary key
CREATE TABLE idempotency_keys_new (
    method       TEXT NOT NULL,
    caller       TEXT NOT NULL DEFAULT '',
    request_id   TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    -- Written with the key, in the transaction of the effect.
    response     BLOB,
    created_us   BIGINT NOT NULL,
    PRIMARY KEY (method, caller, request_id)
);
-- dialect statement: SQLite rebuilds the table to change its primary key
INSERT INTO idempotency_keys_new (method, request_id, request_hash, response, created_us)
    SELECT method, request_id, request_hash, response, created_us FROM idempotency_keys;
-- dialect statement: SQLite rebuilds the table to change its primary key
DROP TABLE idempotency_keys;
-- dialect statement: SQLite rebuilds the table to change its primary key
ALTER TABLE idempotency_keys_new RENAME TO idempotency_keys;
-- dialect statement: SQLite rebuilds the table to change its primary key
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_us);

-- +goose Down
-- dialect statement: SQLite rebuilds the table to change its primary key
CREATE TABLE idempotency_keys_old (
    method       TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response     BLOB,
    created_us   BIGINT NOT NULL,
    PRIMARY KEY (method, request_id)
);
-- dialect statement: SQLite rebuilds the table to change its primary key
INSERT INTO idempotency_keys_old (method, request_id, request_hash, response, created_us)
    SELECT method, request_id, request_hash, response, created_us FROM idempotency_keys WHERE caller = '';
-- dialect statement: SQLite rebuilds the table to change its primary key
DROP TABLE idempotency_keys;
-- dialect statement: SQLite rebuilds the table to change its primary key
ALTER TABLE idempotency_keys_old RENAME TO idempotency_keys;
-- dialect statement: SQLite rebuilds the table to change its primary key
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_us);
