-- +goose Up
-- Follow-up codes (回执码) of demands recorded for a resident. The code is sealed with the
-- demand's other personal data (the personal column); follow_up_code_hash is its keyed hash
-- (HMAC-SHA256 under the key ring's lookup key, for the purpose "follow-up code"), which a
-- claim looks the demand up by. It stays after the claim, so a spent code is told from a wrong
-- one. Unique: a code drawn twice fails the create, which draws again. Most demands are filed
-- online and have none: the index is partial.
ALTER TABLE demands ADD COLUMN follow_up_code_hash BLOB;
CREATE UNIQUE INDEX demands_follow_up_code ON demands (follow_up_code_hash) WHERE follow_up_code_hash IS NOT NULL;

-- Claims counted against their caller (subject) within the throttle's window: a failed claim
-- stays until it leaves the window, a successful one is removed. Kept in the database so that
-- every replica counts the same attempts. id is a ULID.
CREATE TABLE demand_claim_attempts (
    subject    TEXT NOT NULL,
    id         TEXT NOT NULL,
    attempt_us BIGINT NOT NULL,
    PRIMARY KEY (subject, id)
);

-- +goose Down
DROP TABLE demand_claim_attempts;
DROP INDEX demands_follow_up_code;
ALTER TABLE demands DROP COLUMN follow_up_code_hash;
