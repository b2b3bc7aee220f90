-- +goose Up
-- The board's overdue and due-soon counts read only these indexes (index-only scans), never the
-- cases' rows: each deadline with the columns the board groups by (colour, unit) and those a
-- caller's scope and region filter on (community_code, subdistrict_code). A deadline column is
-- NULL unless the case is open and the clock runs (store.columnsOf), so the range alone is the
-- count, without is_open. They replace the single-column indexes of 00001 and 00004, which
-- fetched one row of the table per case counted.
CREATE INDEX cases_board_resolve ON cases (resolve_due_us, colour, unit, community_code, subdistrict_code) WHERE resolve_due_us IS NOT NULL;
CREATE INDEX cases_board_ack ON cases (ack_due_us, colour, unit, community_code, subdistrict_code) WHERE ack_due_us IS NOT NULL;
CREATE INDEX cases_board_reply ON cases (reply_due_us, colour, unit, community_code, subdistrict_code) WHERE reply_due_us IS NOT NULL;
DROP INDEX cases_open_due;
DROP INDEX cases_ack_due;
DROP INDEX cases_reply_due;

-- +goose Down
CREATE INDEX cases_open_due ON cases (resolve_due_us) WHERE is_open;
CREATE INDEX cases_ack_due ON cases (ack_due_us) WHERE ack_due_us IS NOT NULL;
CREATE INDEX cases_reply_due ON cases (reply_due_us) WHERE reply_due_us IS NOT NULL;
DROP INDEX cases_board_reply;
DROP INDEX cases_board_ack;
DROP INDEX cases_board_resolve;
