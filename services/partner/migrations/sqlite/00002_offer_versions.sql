-- +goose Up
-- Each offer carries its party's version, so a search learns from the offers index alone
-- which version of each candidate it found, and decodes a candidate only when that version is
-- not already in memory (store.Store's record cache). SQLite has no INCLUDE: the version is
-- the indexes' last column.
ALTER TABLE party_offers ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
UPDATE party_offers SET version = (SELECT p.version FROM parties p WHERE p.name = party_offers.party); -- dialect: a correlated subquery
DROP INDEX party_offers_search;
DROP INDEX party_offers_region;
CREATE INDEX party_offers_search ON party_offers (category, region_code, status, kind, weekdays, party, version); -- dialect: no INCLUDE: the version is the last key column
CREATE INDEX party_offers_region ON party_offers (region_code, status, kind, weekdays, party, version); -- dialect: no INCLUDE: the version is the last key column

-- +goose Down
DROP INDEX party_offers_search;
DROP INDEX party_offers_region;
CREATE INDEX party_offers_search ON party_offers (category, region_code, status, kind, weekdays, party);
CREATE INDEX party_offers_region ON party_offers (region_code, status, kind, weekdays, party);
ALTER TABLE party_offers DROP COLUMN version;
