-- Tables of the platform packages every service shares: the event outbox (eventfeed), the
-- consumer cursors (eventfeed.Consumer) and the AIP-155 request ids (idempotency).

-- +goose Up
CREATE TABLE events (
    -- Insert order. Not the delivery order: a transaction that inserts first may commit last.
    seq         BIGSERIAL PRIMARY KEY,
    -- The writing transaction, compared with pg_snapshot_xmin to know when it has ended.
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(), -- dialect: SQLite serialises writers, so seq alone is commit order
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    region_code TEXT NOT NULL,
    time_us     BIGINT NOT NULL,
    payload     BYTEA NOT NULL,
    -- Delivery position, assigned by the relay after the transaction has ended.
    cursor      BIGINT UNIQUE
);
-- The relay's work list: events still waiting for a position.
CREATE INDEX events_unpositioned ON events (xid, seq) WHERE cursor IS NULL; -- dialect: the relay orders by transaction, then insert

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
    request_hash BYTEA NOT NULL,
    -- Written with the key, in the transaction of the effect.
    response     BYTEA,
    created_us   BIGINT NOT NULL,
    PRIMARY KEY (method, request_id)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_us);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE consumer_cursors;
DROP TABLE events;
