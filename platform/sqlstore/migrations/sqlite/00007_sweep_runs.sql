-- +goose Up
-- The last run of each background sweep (platform/sweep: automatic escalation, overdue
-- duties), written by whichever replica ran it: what "when did the sweeper last run" reads.
-- Times are unix microseconds of the database's clock (or the sweep's injected one).
CREATE TABLE sweep_runs (
    job          TEXT PRIMARY KEY,
    start_us     BIGINT NOT NULL,
    end_us       BIGINT NOT NULL,
    -- Rows handled by that run, and by every run so far.
    handled      BIGINT NOT NULL,
    handled_all  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE sweep_runs;
