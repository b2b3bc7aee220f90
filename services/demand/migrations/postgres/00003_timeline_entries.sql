-- +goose Up
-- The timeline's collection is plural (AIP-122): an entry is
-- demands/{demand}/timelineEntries/{entry}, no longer demands/{demand}/timeline/{entry}. The name
-- is also inside each stored entry (data, the encoded TimelineEntry), where it is field 1, first
-- and shorter than 128 bytes: a tag byte 0x0a, a one-byte length, then the name. Rewrite those
-- bytes of every entry still carrying the old name, so a data directory made before the rename
-- reads back with the new names; every other byte is kept.
-- dialect statement: PostgreSQL's bytea functions
UPDATE demand_timeline
SET data = '\x0a'::bytea
    || set_byte('\x00'::bytea, 0, octet_length(convert_to(demand || '/timelineEntries/' || id, 'UTF8')))
    || convert_to(demand || '/timelineEntries/' || id, 'UTF8')
    || substring(data FROM 3 + octet_length(convert_to(demand || '/timeline/' || id, 'UTF8')))
WHERE octet_length(convert_to(demand || '/timelineEntries/' || id, 'UTF8')) < 128
  AND substring(data FROM 1 FOR 2 + octet_length(convert_to(demand || '/timeline/' || id, 'UTF8')))
    = '\x0a'::bytea
      || set_byte('\x00'::bytea, 0, octet_length(convert_to(demand || '/timeline/' || id, 'UTF8')))
      || convert_to(demand || '/timeline/' || id, 'UTF8');

-- +goose Down
-- dialect statement: PostgreSQL's bytea functions
UPDATE demand_timeline
SET data = '\x0a'::bytea
    || set_byte('\x00'::bytea, 0, octet_length(convert_to(demand || '/timeline/' || id, 'UTF8')))
    || convert_to(demand || '/timeline/' || id, 'UTF8')
    || substring(data FROM 3 + octet_length(convert_to(demand || '/timelineEntries/' || id, 'UTF8')))
WHERE octet_length(convert_to(demand || '/timelineEntries/' || id, 'UTF8')) < 128
  AND substring(data FROM 1 FOR 2 + octet_length(convert_to(demand || '/timelineEntries/' || id, 'UTF8')))
    = '\x0a'::bytea
      || set_byte('\x00'::bytea, 0, octet_length(convert_to(demand || '/timelineEntries/' || id, 'UTF8')))
      || convert_to(demand || '/timelineEntries/' || id, 'UTF8');
