-- +goose Up
-- The units' notification outbox: one row per message to the unit responsible for a case (a
-- case given to it, a warning, an overdue duty), written in the transaction of the step it
-- tells of and delivered after the commit by the platform's sender (platform/delivery), which
-- claims due rows under a lease. state is delivery.State: SENT 1, LOGGED 2, PENDING 3, HELD 4,
-- FAILED 5. body is the JSON posted to the district's messaging gateway: no personal data.
CREATE TABLE unit_notifications (
    name           TEXT PRIMARY KEY,
    case_name      TEXT NOT NULL,
    id             TEXT NOT NULL,
    kind           INTEGER NOT NULL,
    unit           TEXT NOT NULL,
    assignee       TEXT NOT NULL,
    urgent         BOOLEAN NOT NULL,
    state          INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    due_us         BIGINT NOT NULL,
    lease_owner    TEXT NOT NULL DEFAULT '',
    lease_until_us BIGINT NOT NULL DEFAULT 0,
    last_error     TEXT NOT NULL DEFAULT '',
    create_us      BIGINT NOT NULL,
    send_us        BIGINT NOT NULL DEFAULT 0,
    body           BYTEA NOT NULL
);
-- A case's notifications, oldest first (id is a ULID): the last one told of an assignment.
CREATE UNIQUE INDEX unit_notifications_case ON unit_notifications (case_name, id);
-- The sender's queue: only what is still to deliver (PENDING 3, HELD 4), by when it is due.
CREATE INDEX unit_notifications_due ON unit_notifications (due_us) WHERE state IN (3, 4);

-- +goose Down
DROP TABLE unit_notifications;
