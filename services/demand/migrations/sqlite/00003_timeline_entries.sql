-- +goose Up
-- The timeline's collection is plural (AIP-122): an entry is
-- demands/{demand}/timelineEntries/{entry}, no longer demands/{demand}/timeline/{entry}. The name
-- is also inside each stored entry (data, the encoded TimelineEntry), where it is field 1, first
-- and shorter than 128 bytes: a tag byte 0x0a, a one-byte length, then the name. Rewrite those
-- bytes of every entry still carrying the old name, so a data directory made before the rename
-- reads back with the new names; every other byte is kept. The bytes are handled as hex text:
-- SQLite's || turns blobs into text.
-- dialect statement: SQLite's hex text (its || turns blobs into text)
UPDATE demand_timeline
SET data = unhex('0A' || printf('%02X', length(CAST(demand || '/timelineEntries/' || id AS BLOB)))
    || hex(demand || '/timelineEntries/' || id)
    || substr(hex(data), 5 + 2 * length(CAST(demand || '/timeline/' || id AS BLOB))))
WHERE length(CAST(demand || '/timelineEntries/' || id AS BLOB)) < 128
  AND substr(hex(data), 1, 4 + 2 * length(CAST(demand || '/timeline/' || id AS BLOB)))
    = '0A' || printf('%02X', length(CAST(demand || '/timeline/' || id AS BLOB))) || hex(demand || '/timeline/' || id);

-- +goose Down
-- dialect statement: SQLite's hex text (its || turns blobs into text)
UPDATE demand_timeline
SET data = unhex('0A' || printf('%02X', length(CAST(demand || '/timeline/' || id AS BLOB)))
    || hex(demand || '/timeline/' || id)
    || substr(hex(data), 5 + 2 * length(CAST(demand || '/timelineEntries/' || id AS BLOB))))
WHERE length(CAST(demand || '/timelineEntries/' || id AS BLOB)) < 128
  AND substr(hex(data), 1, 4 + 2 * length(CAST(demand || '/timelineEntries/' || id AS BLOB)))
    = '0A' || printf('%02X', length(CAST(demand || '/timelineEntries/' || id AS BLOB))) || hex(demand || '/timelineEntries/' || id);
