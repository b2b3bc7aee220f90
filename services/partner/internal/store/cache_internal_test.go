package store

import (
	"slices"
	"testing"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
)

// getAll serves a record only at the version asked for: one kept at another version is
// missing, to be read again, as is one never kept.
func TestRecordCacheGetAll(t *testing.T) {
	c := newRecordCache(10)
	a := &partnerv1.Partner{Name: "partners/a"}
	c.keep("partners/a", 1, a)
	c.keep("partners/b", 2, &partnerv1.Partner{Name: "partners/b"})
	got, missing := c.getAll([]offered{{"partners/a", 1}, {"partners/b", 3}, {"partners/c", 1}}, nil)
	if len(got) != 1 || got[0].Party != Party(a) || got[0].Version != 1 {
		t.Errorf("getAll held = %v, want partners/a at version 1", got)
	}
	if want := []string{"partners/b", "partners/c"}; !slices.Equal(missing, want) {
		t.Errorf("getAll missing = %v, want %v", missing, want)
	}
	if _, ok := c.get("partners/b", 2); !ok {
		t.Error("get(partners/b, 2) missed the version kept")
	}
}
