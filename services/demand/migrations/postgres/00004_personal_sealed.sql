-- +goose Up
-- A demand's personal data (reporter, address, exact location) leaves data for personal,
-- sealed under the service's key ring (AES-256-GCM, the key id inside, the demand's name as
-- associated data); reporter_phone_hash is the keyed hash (HMAC-SHA256) of the reporter's
-- phone, for exact-match lookups without the number. SQL cannot seal: rows of an older build
-- keep personal NULL and their plaintext in data until the service seals them on start
-- (store.SealLegacy), in batches, through the partial index below.
ALTER TABLE demands ADD COLUMN personal BYTEA;
ALTER TABLE demands ADD COLUMN reporter_phone_hash BYTEA;
CREATE INDEX demands_reporter_phone ON demands (reporter_phone_hash) WHERE reporter_phone_hash IS NOT NULL;
CREATE INDEX demands_unsealed ON demands (name) WHERE personal IS NULL;

-- +goose Down
DROP INDEX demands_unsealed;
DROP INDEX demands_reporter_phone;
ALTER TABLE demands DROP COLUMN reporter_phone_hash;
ALTER TABLE demands DROP COLUMN personal;
