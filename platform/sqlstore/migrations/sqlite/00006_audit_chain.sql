-- +goose Up
-- The audit chain in a table of its own; see the postgres twin. SQLite serialises writers, so
-- the chain follows seq.
CREATE TABLE audit_chain (
    position    INTEGER PRIMARY KEY, -- dialect: SQLite's rowid
    record_seq  INTEGER NOT NULL UNIQUE, -- dialect: audit_records.seq is an INTEGER here
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL
);
INSERT INTO audit_chain (position, record_seq, prev_hash, hash) -- dialect: no xid column
    SELECT position, seq, prev_hash, hash FROM audit_records WHERE position IS NOT NULL; -- dialect: as above

DROP TRIGGER audit_records_append_only; -- dialect: SQLite's trigger names no table
DROP INDEX audit_records_unchained;
DROP INDEX audit_records_position;
ALTER TABLE audit_records DROP COLUMN position;
ALTER TABLE audit_records DROP COLUMN prev_hash;
ALTER TABLE audit_records DROP COLUMN hash;

-- +goose StatementBegin
CREATE TRIGGER audit_records_append_only BEFORE UPDATE ON audit_records -- dialect: PostgreSQL's is a statement trigger
BEGIN -- dialect: as above
    SELECT RAISE(ABORT, 'audit_records is append-only'); -- dialect: as above
END; -- dialect: as above
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE ON audit_chain -- dialect: as above
BEGIN -- dialect: as above
    SELECT RAISE(ABORT, 'audit_chain is append-only'); -- dialect: as above
END; -- dialect: as above
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_chain_retained BEFORE DELETE ON audit_chain -- dialect: PostgreSQL's rule is a plpgsql function
WHEN EXISTS (SELECT 1 FROM audit_records WHERE seq = OLD.record_seq) -- dialect: as above
BEGIN -- dialect: as above
    SELECT RAISE(ABORT, 'audit_chain: a link goes only after its record'); -- dialect: as above
END; -- dialect: as above
-- +goose StatementEnd

-- +goose Down
-- Forward only: moving the links back into audit_records would need the update the Up removed.
