// Package blob keeps objects — bytes with a content type, under a key — outside the database:
// the photos attached to records. Two back ends implement [Store]: a local directory
// ([NewDir], `jiayuan dev`) and any S3-compatible object store through the S3 API ([NewS3],
// production, one bucket per district). [Open] builds either from a setting.
//
// Objects are small (a photo is at most a few MiB), so they move as byte slices, not streams.
// Keys are chosen by the services ("demands/{id}/photos/{id}"), never by clients; [CheckKey]
// holds them to a safe alphabet so a key cannot climb out of a directory or a bucket prefix.
package blob

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound reports a key with no object.
var ErrNotFound = errors.New("blob: no such object")

// Object is what a store keeps under one key.
type Object struct {
	Data        []byte
	ContentType string
}

// Store keeps objects under keys. Implementations are safe for concurrent use.
type Store interface {
	// Put stores data under key with its content type, replacing what was there.
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Get returns the object under key, or ErrNotFound.
	Get(ctx context.Context, key string) (Object, error)
	// Delete removes the object under key; a key with no object is not an error, so a delete
	// can be retried.
	Delete(ctx context.Context, key string) error
}

// maxKeyLen bounds keys well within S3's 1,024 bytes and any file system's path length.
const maxKeyLen = 512

// CheckKey reports whether key is one a store accepts: segments of letters, digits, '-', '_'
// and '.' joined by '/', none empty, "." or "..", and at most 512 bytes.
func CheckKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("blob: key %q: must be 1 to %d bytes", key, maxKeyLen)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("blob: key %q: empty, \".\" or \"..\" segment", key)
		}
		for _, r := range seg {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
			if !ok {
				return fmt.Errorf("blob: key %q: character %q is not allowed", key, r)
			}
		}
	}
	return nil
}

// checkContentType refuses content types that would not survive a header or a file's first
// line.
func checkContentType(ct string) error {
	if ct == "" || len(ct) > 200 {
		return fmt.Errorf("blob: content type %q: must be 1 to 200 bytes", ct)
	}
	for _, r := range ct {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("blob: content type %q: only printable ASCII", ct)
		}
	}
	return nil
}
