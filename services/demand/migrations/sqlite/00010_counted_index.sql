-- +goose Up
-- CountDemands groups a community's demands by category, status, channel and kind, and a
-- region filter tests their place: with every one of those columns in the index, the count
-- reads the index alone, never the rows (each a seek into the table, and their pages into
-- the cache), so it stays cheap as a community's demands pile up over the years. It leads
-- with the old "me too" index's columns, which it replaces: no more index to write, and the
-- previous release's "me too" lookups use its prefix as they used the old index.
CREATE INDEX demands_counted ON demands (community_code, category, status, channel, kind, place_code);
DROP INDEX demands_similar;

-- +goose Down
CREATE INDEX demands_similar ON demands (community_code, category, status);
DROP INDEX demands_counted;
