-- +goose Up
-- A supporter may ask to be told of the demand's progress (SupportDemandRequest.notify).
ALTER TABLE demand_supporters ADD COLUMN notify BOOLEAN NOT NULL DEFAULT FALSE;

-- The notification outbox: one row per message to one follower of a demand, written in the
-- transaction of the timeline entry it tells of, and delivered after the commit by the
-- service's sender through the district's messaging gateway. data is the Notification
-- (message, recipient kind, entry) without the phone number, which is sealed in personal
-- under the service's key ring like a demand's reporter (the notification's name as
-- associated data). The delivery columns: state (NotificationState), attempts made, due_us
-- (when it may next be tried: now, after a backoff, or at the end of quiet hours), the lease
-- a sender holds while it delivers (lease_owner, lease_until_us: another replica claims the
-- row only once the lease runs out), last_error and send_us. No foreign key, as for the
-- timeline: rows are written beside their demand, and demands are never deleted.
CREATE TABLE demand_notifications (
    name           TEXT PRIMARY KEY,
    demand         TEXT NOT NULL,
    id             TEXT NOT NULL,
    subject        TEXT NOT NULL DEFAULT '',
    urgent         BOOLEAN NOT NULL,
    state          INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    due_us         BIGINT NOT NULL,
    lease_owner    TEXT NOT NULL DEFAULT '',
    lease_until_us BIGINT NOT NULL DEFAULT 0,
    last_error     TEXT NOT NULL DEFAULT '',
    create_us      BIGINT NOT NULL,
    send_us        BIGINT NOT NULL DEFAULT 0,
    data           BYTEA NOT NULL,
    personal       BYTEA,
    version        BIGINT NOT NULL DEFAULT 1
);
-- A demand's notifications, oldest first (id is a ULID).
CREATE UNIQUE INDEX demand_notifications_demand ON demand_notifications (demand, id);
-- The sender's queue: only what is still to deliver (PENDING 1, HELD 2), by when it is due.
CREATE INDEX demand_notifications_due ON demand_notifications (due_us) WHERE state IN (1, 2);
-- personal.Keys.SealLegacy's lookup; every row is written sealed, so it stays empty.
CREATE INDEX demand_notifications_unsealed ON demand_notifications (name) WHERE personal IS NULL;

-- +goose Down
DROP TABLE demand_notifications;
ALTER TABLE demand_supporters DROP COLUMN notify;
