-- +goose Up
-- Photos attached to demands. The image itself is in the photo store (object storage, or a
-- directory under `jiayuan dev`), under the key equal to the photo's name, written before this
-- row; this row is what makes it a photo of the demand. uploaded_by is the subject of whoever
-- attached it, for the uploader's own DeletePhoto, and is never shown: residents see the role.
CREATE TABLE demand_photos (
    demand        TEXT NOT NULL REFERENCES demands (name),
    id            TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    uploaded_by   TEXT NOT NULL,
    uploader_role TEXT NOT NULL,
    create_us     BIGINT NOT NULL,
    PRIMARY KEY (demand, id)
);

-- +goose Down
DROP TABLE demand_photos;
