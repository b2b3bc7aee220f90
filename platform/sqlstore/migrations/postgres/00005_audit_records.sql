-- +goose Up
-- The audit trail (platform/audit): one record per write, per refused attempt and per unmasked
-- read of personal data, inserted in the transaction of the act it records. Append-only: the
-- triggers below refuse every UPDATE except the chaining step's one filling of the chain
-- columns, and every DELETE of a record younger than the retention (GB/T 22239 level 3: 180
-- days). Records are positioned and hash-chained after commit, as the event relay positions
-- events, so writers never wait for each other.
CREATE TABLE audit_records (
    -- Insert order. Not the chain order: a transaction that inserts first may commit last.
    seq         BIGSERIAL PRIMARY KEY,
    -- The writing transaction, compared with pg_snapshot_xmin to know when it has ended.
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(), -- dialect: SQLite serialises writers, so seq alone is commit order
    id          TEXT NOT NULL UNIQUE,
    time_us     BIGINT NOT NULL,
    -- write, read_personal or refused.
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    -- The caller's roles, space-separated.
    roles       TEXT NOT NULL,
    method      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    -- The region the resource belongs to, when known ('' otherwise).
    region_code TEXT NOT NULL,
    -- OK, or the gRPC code of the refusal.
    outcome     TEXT NOT NULL,
    -- The field paths changed, comma-separated.
    paths       TEXT NOT NULL,
    -- For read_personal: what was shown (contact, reporter).
    detail      TEXT NOT NULL,
    -- Chain order and hashes, filled once by the chaining step after the transaction ended.
    position    BIGINT,
    prev_hash   BYTEA,
    hash        BYTEA
);
-- The chaining step's work list: records still waiting for a position.
CREATE INDEX audit_records_unchained ON audit_records (xid, seq) WHERE position IS NULL; -- dialect: the chain orders by transaction, then insert
CREATE UNIQUE INDEX audit_records_position ON audit_records (position) WHERE position IS NOT NULL;
CREATE INDEX audit_records_time ON audit_records (time_us);

-- +goose StatementBegin
CREATE FUNCTION audit_records_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$ -- dialect: SQLite states the rule as a trigger's WHEN
BEGIN -- dialect: as above
    IF OLD.position IS NULL AND OLD.hash IS NULL AND OLD.prev_hash IS NULL -- dialect: as above
        AND NEW.position IS NOT NULL AND NEW.hash IS NOT NULL -- dialect: as above
        AND (NEW.seq, NEW.xid, NEW.id, NEW.time_us, NEW.kind, NEW.subject, NEW.roles, NEW.method, -- dialect: as above
             NEW.resource, NEW.region_code, NEW.outcome, NEW.paths, NEW.detail) -- dialect: as above
            IS NOT DISTINCT FROM (OLD.seq, OLD.xid, OLD.id, OLD.time_us, OLD.kind, OLD.subject, OLD.roles, -- dialect: as above
             OLD.method, OLD.resource, OLD.region_code, OLD.outcome, OLD.paths, OLD.detail) THEN -- dialect: as above
        RETURN NEW; -- dialect: as above
    END IF; -- dialect: as above
    RAISE EXCEPTION 'audit_records is append-only: only the chain columns are filled, once' USING ERRCODE = 'insufficient_privilege'; -- dialect: as above
END; -- dialect: as above
$$; -- dialect: as above
-- +goose StatementEnd
CREATE TRIGGER audit_records_append_only BEFORE UPDATE ON audit_records FOR EACH ROW EXECUTE FUNCTION audit_records_refuse_update(); -- dialect: SQLite's trigger is in the block above

-- +goose StatementBegin
CREATE FUNCTION audit_records_refuse_young_delete() RETURNS trigger LANGUAGE plpgsql AS $$ -- dialect: SQLite states the rule as a trigger's WHEN
BEGIN -- dialect: as above
    IF TG_OP = 'DELETE' AND OLD.time_us < (extract(epoch FROM now() - interval '180 days') * 1000000)::bigint THEN -- dialect: as above
        RETURN OLD; -- dialect: as above
    END IF; -- dialect: as above
    RAISE EXCEPTION 'audit_records: a record younger than 180 days is never deleted' USING ERRCODE = 'insufficient_privilege'; -- dialect: as above
END; -- dialect: as above
$$; -- dialect: as above
-- +goose StatementEnd
CREATE TRIGGER audit_records_retained BEFORE DELETE ON audit_records FOR EACH ROW EXECUTE FUNCTION audit_records_refuse_young_delete(); -- dialect: SQLite's trigger is in the block above
CREATE TRIGGER audit_records_not_truncated BEFORE TRUNCATE ON audit_records FOR EACH STATEMENT EXECUTE FUNCTION audit_records_refuse_young_delete(); -- dialect: SQLite has no TRUNCATE

-- +goose Down
DROP TABLE audit_records;
DROP FUNCTION audit_records_refuse_young_delete(); -- dialect: SQLite's triggers go with the table
DROP FUNCTION audit_records_refuse_update(); -- dialect: as above
