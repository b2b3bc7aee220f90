-- +goose Up
-- aggregates holds every figure, kept incrementally: the value of a measure (and of one of its
-- dimensions, '' when it has none) for one node of the region tree on one local day (yyyymmdd,
-- China Standard Time). An event adds to the row of its node and of each ancestor, so a
-- region's figure over a year is a sum over at most 366 rows per measure and dimension, never
-- a scan of facts; the key leads with the measure, so a query reads only the measures it
-- sums, never the per-partner rows that only rankings read. Stocks (partners by status, projects by status, open cases by colour) are
-- kept as daily changes: their value at a date is the sum of the changes up to it.
CREATE TABLE aggregates (
    region_code TEXT NOT NULL,
    day         INTEGER NOT NULL,
    measure     TEXT NOT NULL,
    dimension   TEXT NOT NULL,
    value       BIGINT NOT NULL,
    PRIMARY KEY (region_code, measure, day, dimension)
);

-- monthly_aggregates holds the same figures per calendar month (yyyymm), written with the daily
-- rows: a period reads whole months here and only its ragged ends from aggregates, so a year's
-- headline sums at most 12 + 62 rows per measure and dimension.
CREATE TABLE monthly_aggregates (
    region_code TEXT NOT NULL,
    month       INTEGER NOT NULL,
    measure     TEXT NOT NULL,
    dimension   TEXT NOT NULL,
    value       BIGINT NOT NULL,
    PRIMARY KEY (region_code, measure, month, dimension)
);

-- The per-entity state needed to count a transition once: a demand's last status and whether
-- it was already counted solved or closed unresolved; a project's status and list type; a
-- case's colour, whether it is open, and whether its first reply and first outcome were
-- counted. Codes and statuses only: no personal data.
CREATE TABLE demand_state (
    name              TEXT PRIMARY KEY,
    community_code    TEXT NOT NULL,
    status            INTEGER NOT NULL,
    submit_us         BIGINT NOT NULL,
    solved            INTEGER NOT NULL,
    closed_unresolved INTEGER NOT NULL
);

CREATE TABLE project_state (
    name           TEXT PRIMARY KEY,
    community_code TEXT NOT NULL,
    status         INTEGER NOT NULL,
    list_type      INTEGER NOT NULL,
    matched        INTEGER NOT NULL
);

CREATE TABLE case_state (
    name           TEXT PRIMARY KEY,
    community_code TEXT NOT NULL,
    colour         INTEGER NOT NULL,
    is_open        INTEGER NOT NULL,
    replied        INTEGER NOT NULL,
    closed         INTEGER NOT NULL
);

-- applied_events makes every effect idempotent by event id, whatever the cursor says: an event
-- delivered twice (a replay, a second consumer) changes nothing the second time.
CREATE TABLE applied_events (
    source   TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (source, event_id)
);

-- skipped_events counts the events of types this service does not know, per source and type.
CREATE TABLE skipped_events (
    source TEXT NOT NULL,
    type   TEXT NOT NULL,
    count  BIGINT NOT NULL,
    PRIMARY KEY (source, type)
);

-- +goose Down
DROP TABLE skipped_events;
DROP TABLE applied_events;
DROP TABLE case_state;
DROP TABLE project_state;
DROP TABLE demand_state;
DROP TABLE monthly_aggregates;
DROP TABLE aggregates;
