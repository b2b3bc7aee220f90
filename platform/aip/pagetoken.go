package aip

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
)

// ErrBadPageToken means a page token was malformed or was issued for a different query.
var ErrBadPageToken = errors.New("page token is malformed or belongs to another query")

// pageToken is what a token carries: the fingerprint of the query that issued it and the
// keyset position (the sort key values of the last item returned).
type pageToken struct {
	Query string   `json:"q"`
	After []string `json:"a,omitempty"`
	Skip  int      `json:"s,omitempty"`
}

// Fingerprint identifies a query (its filter, order and any other parameters that shape the
// result set) so a page token can be refused when replayed against another query.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// EncodePageToken returns an opaque token that resumes query after the item whose sort key
// values are after.
func EncodePageToken(query string, after ...string) string {
	b, _ := json.Marshal(pageToken{Query: query, After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

// EncodeOffsetToken returns an opaque token that resumes a ranked query (one without a stable
// keyset, such as a search ordered by score) after skip items.
func EncodeOffsetToken(query string, skip int) string {
	b, _ := json.Marshal(pageToken{Query: query, Skip: skip})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodePageToken returns the keyset position in token, which must have been issued for
// query with want sort keys. An empty token is the first page (nil, nil).
func DecodePageToken(token, query string, want int) ([]string, error) {
	if token == "" {
		return nil, nil
	}
	t, err := decode(token, query)
	if err != nil {
		return nil, err
	}
	if len(t.After) != want || t.Skip != 0 {
		return nil, ErrBadPageToken
	}
	return t.After, nil
}

// DecodeOffsetToken returns how many items to skip for a token issued by EncodeOffsetToken for
// query. An empty token is the first page (0).
func DecodeOffsetToken(token, query string) (int, error) {
	if token == "" {
		return 0, nil
	}
	t, err := decode(token, query)
	if err != nil {
		return 0, err
	}
	if t.Skip <= 0 || len(t.After) != 0 {
		return 0, ErrBadPageToken
	}
	return t.Skip, nil
}

func decode(token, query string) (pageToken, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return pageToken{}, ErrBadPageToken
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil {
		return pageToken{}, ErrBadPageToken
	}
	if t.Query != query {
		return pageToken{}, ErrBadPageToken
	}
	return t, nil
}

// PageSize applies the defaults of AIP-158: zero means def, and anything above max is max.
func PageSize(requested, def, max int32) int {
	switch {
	case requested <= 0:
		return int(def)
	case requested > max:
		return int(max)
	default:
		return int(requested)
	}
}
