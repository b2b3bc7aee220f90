-- Tables of the platform packages every service shares: the event outbox (eventfeed), the
-- consumer cursors (eventfeed.Consumer) and the AIP-155 request ids (idempotency).

-- +goose Up
CREATE TABLE events (
    -- Insert order. SQLite serialises writers, so this is also commit order.
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    region_code TEXT NOT NULL,
    time_us     BIGINT NOT NULL,
    payload     BLOB NOT NULL,
    -- Delivery position, assigned by the relay after the transaction has committed.
    cursor      BIGINT UNIQUE
);
-- The relay's work list: events still waiting for a position.
CREATE INDEX events_unpositioned ON events (seq) WHERE cursor IS NULL; -- dialect: no xid: insert order is commit order

CREATE TABLE consumer_cursors (
    consumer   TEXT NOT NULL,
    source     TEXT NOT NULL,
    cursor     BIGINT NOT NULL,
    event_id   TEXT NOT NULL,
    updated_us BIGINT NOT NULL,
    PRIMARY KEY (consumer, source)
);

CREATE TABLE idempotency_keys (
    method       TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    -- Written with the key, in the transaction of the effect.
    response     BLOB,
    created_us   BIGINT NOT NULL,
    PRIMARY KEY (method, request_id)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_us);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE consumer_cursors;
DROP TABLE events;
