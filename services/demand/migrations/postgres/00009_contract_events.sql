-- +goose Up
-- The contract service's events the demand service has applied, by event id: a replay of its
-- feed (a cursor lost, restored from a backup) moves no project twice and counts no contract
-- outcome twice.
CREATE TABLE contract_events_applied (
    event_id   TEXT PRIMARY KEY,
    applied_us BIGINT NOT NULL
);

-- +goose Down
DROP TABLE contract_events_applied;
