-- +goose Up
-- meeting_state is the day (yyyymmdd) and kind each of demand's community meetings is counted
-- on, so that a corrected date (a second MeetingRecorded) moves the meeting instead of counting
-- it twice. Codes and dates only: no host, no minutes.
CREATE TABLE meeting_state (
    name           TEXT PRIMARY KEY,
    community_code TEXT NOT NULL,
    kind           TEXT NOT NULL,
    day            INTEGER NOT NULL
);

-- +goose Down
DROP TABLE meeting_state;
