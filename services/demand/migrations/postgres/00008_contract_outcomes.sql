-- +goose Up
-- Partners' contract outcomes (the contract service's feed: fulfilled or breached), which
-- matching reads into their track records beside their activities.
ALTER TABLE partner_records ADD COLUMN contracts_fulfilled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE partner_records ADD COLUMN contracts_breached BIGINT NOT NULL DEFAULT 0;

-- The contract a project is under, from the contract service's feed. While it binds (status
-- ACTIVE or EXPIRED), the project moves with the contract and never by hand.
CREATE TABLE project_contracts (
    project  TEXT PRIMARY KEY,
    contract TEXT NOT NULL,
    status   INTEGER NOT NULL
);

-- +goose Down
DROP TABLE project_contracts;
ALTER TABLE partner_records DROP COLUMN contracts_breached;
ALTER TABLE partner_records DROP COLUMN contracts_fulfilled;
