-- +goose Up
-- Contracts are stored whole as a marshalled proto in data (every version, its duties and
-- signatures: a Get is one row); the other columns are copies of the fields queries filter,
-- sort or sweep on, rewritten with every update. version backs the etag; times are unix
-- microseconds.

-- origin is the event a draft was made from (demand's ProjectMatched), unique so that a replayed
-- or redelivered match drafts nothing twice; NULL for a contract drafted by hand or renewed.
-- sweep_due_us is the next moment the follow-up sweeper must look at an active contract (an
-- alert or its end falls due); NULL when nothing will.
CREATE TABLE contracts (
    name             TEXT PRIMARY KEY,
    project          TEXT NOT NULL,
    origin           TEXT UNIQUE,
    community_code   TEXT NOT NULL,
    subdistrict_code TEXT NOT NULL,
    status           INTEGER NOT NULL,
    sweep_due_us     BIGINT,
    data             BLOB NOT NULL,
    version          BIGINT NOT NULL,
    create_us        BIGINT NOT NULL,
    update_us        BIGINT NOT NULL
);
-- The sweeper's claim: only active contracts with something pending are in it, so a sweep with
-- nothing due is one lookup at the index's low end.
CREATE INDEX contracts_sweep_due ON contracts (sweep_due_us) WHERE sweep_due_us IS NOT NULL;
CREATE INDEX contracts_community_create ON contracts (community_code, create_us, name);
CREATE INDEX contracts_create ON contracts (create_us, name);
CREATE INDEX contracts_project ON contracts (project);

-- The partners who are parties to each contract: a partner's own contracts, the filter by
-- partner, and the track record matching reads.
CREATE TABLE contract_partners (
    partner  TEXT NOT NULL,
    contract TEXT NOT NULL,
    PRIMARY KEY (partner, contract)
);

-- Fulfilments of duties and milestones. activity is the partner service's activity a
-- fulfilment was recorded from, unique so that a replayed ActivityRecorded counts once.
CREATE TABLE fulfilments (
    contract  TEXT NOT NULL,
    id        TEXT NOT NULL,
    activity  TEXT UNIQUE,
    create_us BIGINT NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (contract, id)
);

-- Alerts the sweeper raised. alert_key names the occurrence (kind, duty or milestone or
-- partner, date): unique per contract, so an alert fires once per occurrence whatever the
-- number of sweeps, replicas or restarts.
CREATE TABLE contract_alerts (
    contract  TEXT NOT NULL,
    id        TEXT NOT NULL,
    alert_key TEXT NOT NULL,
    create_us BIGINT NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (contract, id),
    UNIQUE (contract, alert_key)
);

-- +goose Down
DROP TABLE contract_alerts;
DROP TABLE fulfilments;
DROP TABLE contract_partners;
DROP TABLE contracts;
