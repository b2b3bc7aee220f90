-- +goose Up
-- Partners and partner groups share one table: both are parties that can be searched,
-- matched and recorded against; kind tells them apart (1 partner, 2 group).
CREATE TABLE parties (
    name                TEXT PRIMARY KEY,
    kind                INTEGER NOT NULL,
    display_name        TEXT NOT NULL,
    group_name          TEXT NOT NULL DEFAULT '',
    group_kind          INTEGER NOT NULL DEFAULT 0,
    region_code         TEXT NOT NULL,
    status              INTEGER NOT NULL,
    credit_code         TEXT NOT NULL DEFAULT '',
    recruitment_channel INTEGER NOT NULL DEFAULT 0,
    data                BYTEA NOT NULL,
    version             BIGINT NOT NULL,
    create_us           BIGINT NOT NULL,
    update_us           BIGINT NOT NULL
);
CREATE UNIQUE INDEX parties_credit_code ON parties (credit_code) WHERE credit_code <> '';
CREATE INDEX parties_kind_create ON parties (kind, create_us, name);
CREATE INDEX parties_kind_display ON parties (kind, display_name, name);
CREATE INDEX parties_region ON parties (region_code);
CREATE INDEX parties_group ON parties (group_name) WHERE group_name <> '';

-- The search index, rewritten with the party on every change. An offer is one capability
-- category in one service area (category 0 when the party lists no capability, region ''
-- when it lists no area), carrying what a search filters on besides: kind, status and the
-- weekdays the party is available (bit d for weekday d, Monday = 1). "Who offers X around Y
-- on Wednesdays" is then one range scan of party_offers_search, without reading the parties.
CREATE TABLE party_offers (
    party       TEXT NOT NULL REFERENCES parties (name) ON DELETE CASCADE,
    category    INTEGER NOT NULL,
    region_code TEXT NOT NULL,
    kind        INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    weekdays    INTEGER NOT NULL,
    PRIMARY KEY (party, category, region_code)
);
CREATE INDEX party_offers_search ON party_offers (category, region_code, status, kind, weekdays, party);
CREATE INDEX party_offers_region ON party_offers (region_code, status, kind, weekdays, party);

CREATE TABLE activities (
    name           TEXT PRIMARY KEY,
    party          TEXT NOT NULL,
    community_code TEXT NOT NULL,
    kind           INTEGER NOT NULL,
    activity_date  TEXT NOT NULL,
    create_us      BIGINT NOT NULL,
    data           BYTEA NOT NULL
);
CREATE INDEX activities_community ON activities (community_code, activity_date, name);
CREATE INDEX activities_party ON activities (party, activity_date, name);

-- +goose Down
DROP TABLE activities;
DROP TABLE party_offers;
DROP TABLE parties;
