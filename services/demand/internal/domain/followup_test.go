package domain

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
)

func TestNewFollowUpCode(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := NewFollowUpCode(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != FollowUpCodeDigits || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("code %q: want %d digits", c, FollowUpCodeDigits)
		}
		if n, err := NormalizeFollowUpCode(FormatFollowUpCode(c)); err != nil || n != c {
			t.Fatalf("%q formatted as %q reads back as %q, %v", c, FormatFollowUpCode(c), n, err)
		}
		seen[c] = true
	}
	if len(seen) < 200 {
		t.Fatalf("200 draws gave %d distinct codes", len(seen))
	}
	// Small numbers keep their leading zeros: all twelve digits are the code.
	zeros, err := NewFollowUpCode(bytes.NewReader(make([]byte, 64)))
	if err != nil || zeros != "000000000000" {
		t.Fatalf("from zero bytes: %q, %v", zeros, err)
	}
	// A failing source is an error, never a weak code.
	if _, err := NewFollowUpCode(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Fatal("a failing random source gave a code")
	}
	if _, err := NewFollowUpCode(rand.Reader); err != nil {
		t.Fatal(err)
	}
}

func TestFormatFollowUpCode(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"123456789012", "1234 5678 9012"},
		{"000000000007", "0000 0000 0007"},
		{"12345678901", "12345678901"},       // not a code: as is
		{"12345678901a", "12345678901a"},     // not a code: as is
		{"1234 5678 9012", "1234 5678 9012"}, // already grouped: as is
	} {
		if got := FormatFollowUpCode(tt.in); got != tt.want {
			t.Errorf("FormatFollowUpCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeFollowUpCode(t *testing.T) {
	const code = "123456789012"
	for _, tt := range []struct {
		name, in string
		ok       bool
	}{
		{"as printed", "1234 5678 9012", true},
		{"digits only", "123456789012", true},
		{"hyphens", "1234-5678-9012", true},
		{"spaces around and doubled", "  1234  5678 9012 ", true},
		{"full-width digits", "１２３４５６７８９０１２", true},
		{"full-width space and hyphen", "1234　5678－9012", true},
		{"eleven digits", "1234 5678 901", false},
		{"thirteen digits", "1234 5678 90123", false},
		{"a letter", "1234 5678 901O", false},
		{"a dot", "1234.5678.9012", false},
		{"other script digits", "١٢٣٤٥٦٧٨٩٠١٢", false},
		{"empty", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeFollowUpCode(tt.in)
			if tt.ok {
				if err != nil || got != code {
					t.Fatalf("NormalizeFollowUpCode(%q) = %q, %v; want %q", tt.in, got, err, code)
				}
				return
			}
			if !errors.Is(err, ErrBadFollowUpCode) {
				t.Fatalf("NormalizeFollowUpCode(%q) = %q, %v; want ErrBadFollowUpCode", tt.in, got, err)
			}
		})
	}
}

func TestRatingRules(t *testing.T) {
	for _, s := range allDemandStatuses() {
		want := s == resolved || s == closedUnresolved
		if got := StartsResolution(s); got != want {
			t.Errorf("StartsResolution(%v) = %v", s, got)
		}
	}
	for r := range demandv1.Rating_name {
		rating := demandv1.Rating(r)
		if got, want := Reopens(rating), rating == demandv1.Rating_RATING_UNSATISFIED; got != want {
			t.Errorf("Reopens(%v) = %v", rating, got)
		}
	}
}
