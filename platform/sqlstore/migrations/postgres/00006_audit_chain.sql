-- +goose Up
-- The audit chain moves out of audit_records into a table of its own. The chaining step used
-- to UPDATE each record to fill its chain columns: an update that rewrote every index entry of
-- the row, ran a row trigger and left a dead row, about the cost of the record's own insert.
-- It now inserts one narrow row per record, and audit_records takes no UPDATE at all.
CREATE TABLE audit_chain (
    -- Chain order: 1, 2, 3, … without gaps, except the prefix a purge deleted.
    position    BIGINT PRIMARY KEY, -- dialect: SQLite's is its rowid
    -- The record (audit_records.seq) at this position.
    record_seq  BIGINT NOT NULL UNIQUE, -- dialect: SQLite's seq is an INTEGER
    -- Its transaction: where the next chaining step resumes.
    record_xid  xid8 NOT NULL, -- dialect: SQLite serialises writers, so seq alone is commit order
    prev_hash   BYTEA NOT NULL,
    hash        BYTEA NOT NULL
);
INSERT INTO audit_chain (position, record_seq, record_xid, prev_hash, hash) -- dialect: SQLite has no xid column
    SELECT position, seq, xid, prev_hash, hash FROM audit_records WHERE position IS NOT NULL; -- dialect: as above

DROP TRIGGER audit_records_append_only ON audit_records; -- dialect: PostgreSQL names a trigger's table
DROP FUNCTION audit_records_refuse_update(); -- dialect: SQLite's triggers have no function
DROP INDEX audit_records_unchained;
DROP INDEX audit_records_position;
ALTER TABLE audit_records DROP COLUMN position;
ALTER TABLE audit_records DROP COLUMN prev_hash;
ALTER TABLE audit_records DROP COLUMN hash;
-- The chaining step's work list: the records after the last one chained, in transaction order.
CREATE INDEX audit_records_xid ON audit_records (xid, seq); -- dialect: SQLite has no xid column

-- +goose StatementBegin
CREATE FUNCTION audit_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$ -- dialect: SQLite states each rule as a trigger
BEGIN -- dialect: as above
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; -- dialect: as above
END; -- dialect: as above
$$; -- dialect: as above
-- +goose StatementEnd
-- Statement triggers: no cost on the insert path, and no exception to the rule.
CREATE TRIGGER audit_records_append_only BEFORE UPDATE ON audit_records FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_update(); -- dialect: SQLite's is a row trigger
-- +goose StatementBegin
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR TRUNCATE ON audit_chain FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_update(); -- dialect: as above
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION audit_chain_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$ -- dialect: SQLite states the rule as a trigger's WHEN
BEGIN -- dialect: as above
    IF EXISTS (SELECT 1 FROM audit_records WHERE seq = OLD.record_seq) THEN -- dialect: as above
        RAISE EXCEPTION 'audit_chain: a link goes only after its record' USING ERRCODE = 'insufficient_privilege'; -- dialect: as above
    END IF; -- dialect: as above
    RETURN OLD; -- dialect: as above
END; -- dialect: as above
$$; -- dialect: as above
-- +goose StatementEnd
-- A link is deleted only after its record, which audit_records keeps for 180 days.
CREATE TRIGGER audit_chain_retained BEFORE DELETE ON audit_chain FOR EACH ROW EXECUTE FUNCTION audit_chain_refuse_delete(); -- dialect: SQLite's trigger is in the block above

-- +goose Down
-- Forward only: moving the links back into audit_records would need the update the Up removed.
