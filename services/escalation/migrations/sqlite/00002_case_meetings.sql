-- +goose Up
-- Co-handling meetings (联合协商会) of yellow and red cases, with their follow-up duties, stored
-- whole; a case's earliest open duty is on the case (next_duty_due_time), where the sweeper
-- watches it.
CREATE TABLE case_meetings (
    name      TEXT PRIMARY KEY,
    case_name TEXT NOT NULL,
    data      BLOB NOT NULL,
    version   BIGINT NOT NULL,
    create_us BIGINT NOT NULL
);
CREATE INDEX case_meetings_case ON case_meetings (case_name, name);

-- +goose Down
DROP TABLE case_meetings;
