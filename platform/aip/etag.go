package aip

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Etag is the opaque etag of version v of the resource named name (AIP-154). Resources keep
// an integer version that every update increments; the etag is derived from it so clients
// cannot guess one for another resource.
func Etag(name string, version int64) string {
	h := sha256.Sum256([]byte(name + "\x00" + strconv.FormatInt(version, 10)))
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

// EtagMatches reports whether the etag a client sent is current. An empty etag skips the check
// (the client asked for an unconditional change).
func EtagMatches(sent, name string, version int64) bool {
	return sent == "" || sent == Etag(name, version) || sent == "W/"+Etag(name, version)
}
