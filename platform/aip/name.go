package aip

import (
	"strings"

	"github.com/oklog/ulid/v2"
)

// NewID returns the id of a new resource: a ULID, sortable by creation time.
func NewID() string { return ulid.Make().String() }

// NewName returns the name of a new resource of collection ("demands"): "demands/{id}".
func NewName(collection string) string { return collection + "/" + NewID() }

// ValidName reports whether name is a resource of collection with an id NewID made:
// "demands/01J…". Nested collections are given whole: "demands/*/timelineEntries" is not
// supported, only top-level collections.
func ValidName(name, collection string) bool {
	id, ok := strings.CutPrefix(name, collection+"/")
	if !ok || len(id) != ulid.EncodedSize {
		return false
	}
	_, err := ulid.ParseStrict(id)
	return err == nil
}
