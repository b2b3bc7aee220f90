-- +goose Up
-- A party's contact (person name, phone) leaves data for personal, sealed under the service's
-- key ring (AES-256-GCM, the key id inside, the party's name as associated data);
-- contact_phone_hash is the keyed hash (HMAC-SHA256) of the contact's phone, for exact-match
-- lookups without the number. SQL cannot seal: rows of an older build keep personal NULL and
-- their plaintext in data until the service seals them on start (store.SealLegacy), in
-- batches, through the partial index below.
ALTER TABLE parties ADD COLUMN personal BYTEA;
ALTER TABLE parties ADD COLUMN contact_phone_hash BYTEA;
CREATE INDEX parties_contact_phone ON parties (contact_phone_hash) WHERE contact_phone_hash IS NOT NULL;
CREATE INDEX parties_unsealed ON parties (name) WHERE personal IS NULL;

-- +goose Down
DROP INDEX parties_unsealed;
DROP INDEX parties_contact_phone;
ALTER TABLE parties DROP COLUMN contact_phone_hash;
ALTER TABLE parties DROP COLUMN personal;
