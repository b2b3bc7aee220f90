-- +goose Up
-- Cases are stored whole as a marshalled proto in data; the other columns are copies of the
-- fields that queries filter, sort, count or sweep on, rewritten with every update. version
-- backs the etag; times are unix microseconds.

-- demand is unique: one case per demand, however often the demand feed is replayed or
-- CreateCase retried. is_open is false once resolved or closed unresolved. resolve_due_us is
-- the resolve deadline of an open case (NULL when closed); sweep_due_us the next moment the
-- sweeper must look at it (a warning or an escalation falls due; NULL when nothing will).
CREATE TABLE cases (
    name             TEXT PRIMARY KEY,
    demand           TEXT NOT NULL UNIQUE,
    community_code   TEXT NOT NULL,
    subdistrict_code TEXT NOT NULL,
    category         INTEGER NOT NULL,
    colour           INTEGER NOT NULL,
    status           INTEGER NOT NULL,
    is_open          BOOLEAN NOT NULL,
    escalated        BOOLEAN NOT NULL,
    unit             TEXT NOT NULL,
    -- The line of case_counts the case is counted in while open ('' once closed).
    count_key        TEXT NOT NULL,
    resolve_due_us   BIGINT,
    sweep_due_us     BIGINT,
    data             BLOB NOT NULL,
    version          BIGINT NOT NULL,
    create_us        BIGINT NOT NULL,
    update_us        BIGINT NOT NULL
);
-- The sweeper's claim: only rows with something pending are in it, so a sweep with nothing
-- due is one lookup at the index's low end.
CREATE INDEX cases_sweep_due ON cases (sweep_due_us) WHERE sweep_due_us IS NOT NULL;
-- The three-colour list by community and district-wide, newest first.
CREATE INDEX cases_community_create ON cases (community_code, create_us, name);
CREATE INDEX cases_create ON cases (create_us, name);
-- A department's cases.
CREATE INDEX cases_unit_create ON cases (unit, create_us, name);
-- The board's overdue and due-soon counts: open cases by deadline, a range at the low end.
CREATE INDEX cases_open_due ON cases (resolve_due_us) WHERE is_open;

-- The board's open counts, kept with every write of a case (store.InsertCase, UpdateCase), so
-- that the board of a whole district reads a few hundred lines, not every open case. key is
-- the line's columns joined, which cases.count_key repeats.
CREATE TABLE case_counts (
    key              TEXT PRIMARY KEY,
    subdistrict_code TEXT NOT NULL,
    community_code   TEXT NOT NULL,
    colour           INTEGER NOT NULL,
    unit             TEXT NOT NULL,
    escalated        BOOLEAN NOT NULL,
    open_cases       BIGINT NOT NULL
);

-- A case's history. id is the event's ULID, so the primary key lists it oldest first. No
-- foreign key: events are written beside the case they belong to, and cases are never deleted.
CREATE TABLE case_events (
    case_name TEXT NOT NULL,
    id        TEXT NOT NULL,
    create_us BIGINT NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (case_name, id)
);

-- +goose Down
DROP TABLE case_counts;
DROP TABLE case_events;
DROP TABLE cases;
