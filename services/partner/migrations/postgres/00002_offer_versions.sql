-- +goose Up
-- Each offer carries its party's version, so a search learns from the offers index alone
-- which version of each candidate it found, and decodes a candidate only when that version is
-- not already in memory (store.Store's record cache).
ALTER TABLE party_offers ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
UPDATE party_offers o SET version = p.version FROM parties p WHERE p.name = o.party; -- dialect: UPDATE … FROM
DROP INDEX party_offers_search;
DROP INDEX party_offers_region;
CREATE INDEX party_offers_search ON party_offers (category, region_code, status, kind, weekdays, party) INCLUDE (version); -- dialect: the version INCLUDEd
CREATE INDEX party_offers_region ON party_offers (region_code, status, kind, weekdays, party) INCLUDE (version); -- dialect: the version INCLUDEd

-- +goose Down
DROP INDEX party_offers_search;
DROP INDEX party_offers_region;
CREATE INDEX party_offers_search ON party_offers (category, region_code, status, kind, weekdays, party);
CREATE INDEX party_offers_region ON party_offers (region_code, status, kind, weekdays, party);
ALTER TABLE party_offers DROP COLUMN version;
