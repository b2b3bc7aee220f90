package aip

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// quoteValue writes v as a filter's quoted string.
func quoteValue(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// FuzzParseFilter: any filter either parses or is a FilterError (never a panic, never another
// error); what parses, written back with every value quoted, parses to the same conditions.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		``, `status = ACTIVE`, `status=ACTIVE AND region_code = "450105001"`,
		`activity_date >= "2025-01-01" AND activity_date <= "2025-12-31"`,
		`display_name = "a \"quoted\" name"`, `name != "x'; DROP TABLE partners; --"`,
		`status = ACTIVE OR status = DORMANT`, `(status = ACTIVE)`, `status = "unterminated`,
		`a ! b`, `region = 社区/二桥西`, `x = "\\"`, `x = "\`, `f<=1 AND g>2 AND h!=c`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		conds, err := ParseFilter(s)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) || fe.Msg == "" {
				t.Fatalf("ParseFilter(%q) error %v (%T), want a FilterError with a message", s, err, err)
			}
			return
		}
		var parts []string
		for _, c := range conds {
			if c.Field == "" {
				t.Fatalf("ParseFilter(%q): condition %+v", s, c)
			}
			parts = append(parts, c.Field+" "+string(c.Op)+" "+quoteValue(c.Value))
		}
		again, err := ParseFilter(strings.Join(parts, " AND "))
		if err != nil {
			t.Fatalf("ParseFilter(%q) = %+v, written back as %q: %v", s, conds, strings.Join(parts, " AND "), err)
		}
		if len(conds) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(conds, again) {
			t.Fatalf("ParseFilter(%q) = %+v; written back and parsed again: %+v", s, conds, again)
		}
	})
}

// FuzzPageToken: any token from a client either decodes or is ErrBadPageToken; tokens the
// server issues decode to what was put in, for their own query only.
func FuzzPageToken(f *testing.F) {
	f.Add("", "q", "a", "b", 3)
	f.Add(EncodePageToken(Fingerprint("status = ACTIVE", "create_time"), "2025-01-01T00:00:00Z", "partners/01J"), Fingerprint("status = ACTIVE", "create_time"), "x", "", 0)
	f.Add(EncodeOffsetToken("q", 40), "q", "", "", 40)
	f.Add("eyJxIjoicSIsImEiOlsiYSJdfQ", "q", "a", "b", -1)
	f.Add("!!!not base64", "q", "a", "b", 1)
	f.Fuzz(func(t *testing.T, token, query, a, b string, skip int) {
		if after, err := DecodePageToken(token, query, 2); err != nil && !errors.Is(err, ErrBadPageToken) {
			t.Fatalf("DecodePageToken(%q) error %v", token, err)
		} else if err == nil && token != "" && len(after) != 2 {
			t.Fatalf("DecodePageToken(%q) = %q, want 2 keys", token, after)
		}
		if n, err := DecodeOffsetToken(token, query); err != nil && !errors.Is(err, ErrBadPageToken) {
			t.Fatalf("DecodeOffsetToken(%q) error %v", token, err)
		} else if err == nil && token != "" && n <= 0 {
			t.Fatalf("DecodeOffsetToken(%q) = %d, want a positive skip", token, n)
		}
		// JSON carries text: issued tokens hold UTF-8 (sort keys and fingerprints are).
		if !utf8.ValidString(query) || !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		issued := EncodePageToken(query, a, b)
		after, err := DecodePageToken(issued, query, 2)
		if err != nil || !reflect.DeepEqual(after, []string{a, b}) {
			t.Fatalf("issued token for %q after %q, %q decodes to %q, %v", query, a, b, after, err)
		}
		if _, err := DecodePageToken(issued, query+"x", 2); !errors.Is(err, ErrBadPageToken) {
			t.Fatalf("a token of query %q accepted for another: %v", query, err)
		}
		if skip > 0 {
			if n, err := DecodeOffsetToken(EncodeOffsetToken(query, skip), query); err != nil || n != skip {
				t.Fatalf("offset token of %d decodes to %d, %v", skip, n, err)
			}
		}
	})
}

// FuzzValidName: a name is valid for a collection only if it is that collection, a slash and
// a ULID; every name NewName makes is valid, and for no other collection.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{
		"demands/01JABCDEFGHJKMNPQRSTVWXYZ0", "partnerGroups/01JABCDEFGHJKMNPQRSTVWXYZ0", "demands/", "demands",
		"demands/01JABCDEFGHJKMNPQRSTVWXYZ0/extra", "demands/../partners/01JABCDEFGHJKMNPQRSTVWXYZ0",
		"demands/81JABCDEFGHJKMNPQRSTVWXYZ0", "demands/01jabcdefghjkmnpqrstvwxyz0", "demands/01JABCDEFGHJKMNPQRSTVWXYZ",
	} {
		f.Add(s, "demands")
	}
	f.Fuzz(func(t *testing.T, name, collection string) {
		if ValidName(name, collection) {
			id, ok := strings.CutPrefix(name, collection+"/")
			if !ok || len(id) != 26 || strings.ContainsAny(id, "/.? #%") {
				t.Fatalf("ValidName(%q, %q) accepted an id %q", name, collection, id)
			}
		}
		if collection == "" || strings.Contains(collection, "/") {
			return
		}
		n := NewName(collection)
		if !ValidName(n, collection) {
			t.Fatalf("NewName(%q) = %q, not valid", collection, n)
		}
		if ValidName(n, collection+"x") {
			t.Fatalf("NewName(%q) = %q valid for %q", collection, n, collection+"x")
		}
	})
}
