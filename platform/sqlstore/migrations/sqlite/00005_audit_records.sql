-- +goose Up
-- The audit trail (platform/audit); see the postgres twin. SQLite serialises writers, so
-- insert order is commit order and the chain follows seq.
CREATE TABLE audit_records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    time_us     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    roles       TEXT NOT NULL,
    method      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    region_code TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    paths       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    position    BIGINT,
    prev_hash   BLOB,
    hash        BLOB
);
CREATE INDEX audit_records_unchained ON audit_records (seq) WHERE position IS NULL; -- dialect: no xid: insert order is commit order
CREATE UNIQUE INDEX audit_records_position ON audit_records (position) WHERE position IS NOT NULL;
CREATE INDEX audit_records_time ON audit_records (time_us);

-- +goose StatementBegin
CREATE TRIGGER audit_records_append_only BEFORE UPDATE ON audit_records -- dialect: PostgreSQL's rule is a plpgsql function
WHEN NOT (OLD.position IS NULL AND OLD.hash IS NULL AND OLD.prev_hash IS NULL -- dialect: as above
    AND NEW.position IS NOT NULL AND NEW.hash IS NOT NULL -- dialect: as above
    AND NEW.seq IS OLD.seq AND NEW.id IS OLD.id AND NEW.time_us IS OLD.time_us AND NEW.kind IS OLD.kind -- dialect: as above
    AND NEW.subject IS OLD.subject AND NEW.roles IS OLD.roles AND NEW.method IS OLD.method -- dialect: as above
    AND NEW.resource IS OLD.resource AND NEW.region_code IS OLD.region_code -- dialect: as above
    AND NEW.outcome IS OLD.outcome AND NEW.paths IS OLD.paths AND NEW.detail IS OLD.detail) -- dialect: as above
BEGIN -- dialect: as above
    SELECT RAISE(ABORT, 'audit_records is append-only: only the chain columns are filled, once'); -- dialect: as above
END; -- dialect: as above
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_records_retained BEFORE DELETE ON audit_records -- dialect: PostgreSQL's rule is a plpgsql function
WHEN OLD.time_us >= CAST(strftime('%s', 'now', '-180 days') AS INTEGER) * 1000000 -- dialect: as above
BEGIN -- dialect: as above
    SELECT RAISE(ABORT, 'audit_records: a record younger than 180 days is never deleted'); -- dialect: as above
END; -- dialect: as above
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_records;
