-- +goose Up
-- Records are stored whole as a marshalled proto in data; the other columns are copies of the
-- fields that queries filter, sort or join on, rewritten with every update. version backs the
-- etag; times are unix microseconds.

-- place_code is the grid when the demand names one, else the community: the region filter
-- prefix-matches it. raised_by is the subject of a resident who filed the demand themselves
-- ('' when staff recorded it for someone).
CREATE TABLE demands (
    name            TEXT PRIMARY KEY,
    kind            INTEGER NOT NULL,
    category        INTEGER NOT NULL,
    channel         INTEGER NOT NULL,
    status          INTEGER NOT NULL,
    urgency         INTEGER NOT NULL,
    community_code  TEXT NOT NULL,
    place_code      TEXT NOT NULL,
    meeting         TEXT NOT NULL DEFAULT '',
    project         TEXT NOT NULL DEFAULT '',
    raised_by       TEXT NOT NULL DEFAULT '',
    supporter_count INTEGER NOT NULL DEFAULT 0,
    data            BLOB NOT NULL,
    version         BIGINT NOT NULL,
    create_us       BIGINT NOT NULL,
    update_us       BIGINT NOT NULL
);
-- A community's needs list, newest first; and the district-wide one.
CREATE INDEX demands_community_create ON demands (community_code, create_us, name);
CREATE INDEX demands_create ON demands (create_us, name);
-- "Me too" suggestions: open demands of a community and category.
CREATE INDEX demands_similar ON demands (community_code, category, status);
-- Partial: most demands have no resident subject, meeting or project, and the create path
-- should not pay for index entries nobody looks up. Queries repeat the "<> ''" so that
-- generic plans can use them.
CREATE INDEX demands_raised_by ON demands (raised_by) WHERE raised_by <> '';
CREATE INDEX demands_meeting ON demands (meeting) WHERE meeting <> '';
CREATE INDEX demands_project ON demands (project) WHERE project <> '';

-- A demand's history. id is the entry's ULID, so the primary key lists it oldest first. No
-- foreign key: entries are written on every change of a demand, always beside it, and demands
-- are never deleted.
CREATE TABLE demand_timeline (
    demand    TEXT NOT NULL,
    id        TEXT NOT NULL,
    kind      INTEGER NOT NULL,
    create_us BIGINT NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (demand, id)
);

-- Residents who said "me too" (附议); the demand's supporter_count is their number.
CREATE TABLE demand_supporters (
    demand    TEXT NOT NULL REFERENCES demands (name),
    subject   TEXT NOT NULL,
    create_us BIGINT NOT NULL,
    PRIMARY KEY (demand, subject)
);
CREATE INDEX demand_supporters_subject ON demand_supporters (subject);

-- demand_count is kept by SQL (incremented as demands are filed), not in data.
CREATE TABLE meetings (
    name           TEXT PRIMARY KEY,
    kind           INTEGER NOT NULL,
    community_code TEXT NOT NULL,
    meeting_date   TEXT NOT NULL,
    demand_count   INTEGER NOT NULL DEFAULT 0,
    data           BLOB NOT NULL,
    version        BIGINT NOT NULL,
    create_us      BIGINT NOT NULL,
    update_us      BIGINT NOT NULL
);
-- One 逢四说事 (kind 1) per community per day; other meetings may share a day.
CREATE UNIQUE INDEX meetings_fourth_day ON meetings (community_code, meeting_date) WHERE kind = 1;
CREATE INDEX meetings_community_date ON meetings (community_code, meeting_date, name);

CREATE TABLE projects (
    name           TEXT PRIMARY KEY,
    community_code TEXT NOT NULL,
    list_type      INTEGER NOT NULL,
    category       INTEGER NOT NULL,
    status         INTEGER NOT NULL,
    data           BLOB NOT NULL,
    version        BIGINT NOT NULL,
    create_us      BIGINT NOT NULL,
    update_us      BIGINT NOT NULL
);
CREATE INDEX projects_community_create ON projects (community_code, create_us, name);

-- The partners accepted for a project (its matched_partners), rewritten with the project:
-- a partner's active commitments are counted from here.
CREATE TABLE project_partners (
    project TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    partner TEXT NOT NULL,
    PRIMARY KEY (project, partner)
);
CREATE INDEX project_partners_partner ON project_partners (partner);

-- Partners' track records, built from the partner service's ActivityRecorded events.
-- last_activity_date is "YYYY-MM-DD", '' when none.
CREATE TABLE partner_records (
    partner            TEXT PRIMARY KEY,
    activity_count     BIGINT NOT NULL,
    people_served      BIGINT NOT NULL,
    last_activity_date TEXT NOT NULL,
    update_us          BIGINT NOT NULL
);

-- +goose Down
DROP TABLE partner_records;
DROP TABLE project_partners;
DROP TABLE projects;
DROP TABLE meetings;
DROP TABLE demand_supporters;
DROP TABLE demand_timeline;
DROP TABLE demands;
