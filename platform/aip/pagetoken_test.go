package aip

import (
	"errors"
	"reflect"
	"testing"
)

func TestPageTokenRoundTrip(t *testing.T) {
	q := Fingerprint("status = ACTIVE", "create_time")
	tok := EncodePageToken(q, "1700000000", "01J0000000000000000000000")
	got, err := DecodePageToken(tok, q, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1700000000", "01J0000000000000000000000"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got, err := DecodePageToken("", q, 2); got != nil || err != nil {
		t.Fatalf("empty token = %v, %v; want first page", got, err)
	}
}

func TestPageTokenRefused(t *testing.T) {
	q := Fingerprint("status = ACTIVE", "create_time")
	other := Fingerprint("status = DORMANT", "create_time")
	tok := EncodePageToken(q, "1", "a")
	for name, tc := range map[string]struct {
		token, query string
		keys         int
	}{
		"another query":  {tok, other, 2},
		"garbage":        {"%%%not-base64", q, 2},
		"not json":       {"bm90IGpzb24", q, 2},
		"wrong key size": {tok, q, 1},
		"offset token":   {EncodeOffsetToken(q, 20), q, 2},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodePageToken(tc.token, tc.query, tc.keys); !errors.Is(err, ErrBadPageToken) {
				t.Fatalf("err = %v, want ErrBadPageToken", err)
			}
		})
	}
	if _, err := DecodeOffsetToken(EncodeOffsetToken(q, 20), other); !errors.Is(err, ErrBadPageToken) {
		t.Fatalf("offset token for another query: err = %v", err)
	}
	if n, err := DecodeOffsetToken(EncodeOffsetToken(q, 20), q); n != 20 || err != nil {
		t.Fatalf("offset = %d, %v", n, err)
	}
}

func TestPageSize(t *testing.T) {
	for _, tc := range []struct{ req, want int32 }{{0, 50}, {-3, 50}, {10, 10}, {5000, 1000}} {
		if got := PageSize(tc.req, 50, 1000); got != int(tc.want) {
			t.Errorf("PageSize(%d) = %d, want %d", tc.req, got, tc.want)
		}
	}
}

func TestEtag(t *testing.T) {
	e := Etag("partners/A", 3)
	if !EtagMatches(e, "partners/A", 3) || !EtagMatches("", "partners/A", 3) {
		t.Fatal("current etag refused")
	}
	if EtagMatches(e, "partners/A", 4) || EtagMatches(e, "partners/B", 3) {
		t.Fatal("stale or foreign etag accepted")
	}
}
