// Package signedurl makes links that are their own credential: a resource name and an expiry
// signed with a per-deployment secret (HMAC-SHA256), for what a browser loads by URL without a
// bearer token — the photos of a demand in an <img> tag. The service that hands out the link
// has checked that the caller may see the resource; whoever holds the link may then read it
// until it expires, and no longer.
//
// The key file holds one or more keys, one per line, base64 of at least 32 random bytes: the
// first signs, every one verifies. To rotate, put a new key first, keep the old one below it
// for one link lifetime, then remove it.
package signedurl

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The query parameters of a signed link.
const (
	ParamExpires   = "expires"
	ParamSignature = "signature"
)

// MinKeyBytes is the shortest key accepted.
const MinKeyBytes = 32

var (
	// ErrInvalid reports a signature that does not match: a link altered, made up, or signed
	// with a key no longer in the file.
	ErrInvalid = errors.New("signedurl: invalid signature")
	// ErrExpired reports a link past its expiry.
	ErrExpired = errors.New("signedurl: link expired")
)

// Signer signs and verifies links with a deployment's keys.
type Signer struct {
	keys [][]byte
}

// New returns a signer over keys: the first signs, all verify.
func New(keys ...[]byte) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("signedurl: no key")
	}
	for i, k := range keys {
		if len(k) < MinKeyBytes {
			return nil, fmt.Errorf("signedurl: key %d is %d bytes; at least %d", i+1, len(k), MinKeyBytes)
		}
	}
	return &Signer{keys: keys}, nil
}

// Load reads a key file (see the package comment).
func Load(path string) (*Signer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signedurl: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			// The line is a secret: say where, not what.
			return nil, fmt.Errorf("signedurl: %s line %d: not base64", path, n)
		}
		keys = append(keys, k)
	}
	s, err := New(keys...)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return s, nil
}

// NewKeyFile returns the contents of a key file with one fresh key.
func NewKeyFile() ([]byte, error) {
	k := make([]byte, MinKeyBytes)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("signedurl: %w", err)
	}
	return []byte(base64.StdEncoding.EncodeToString(k) + "\n"), nil
}

// LoadOrCreate reads the key file at path, first writing one with a fresh key there
// (readable by its owner only) when there is none: a dev data directory's own key.
func LoadOrCreate(path string) (*Signer, error) {
	data, err := NewKeyFile()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(path)
			return nil, fmt.Errorf("signedurl: write %s: %w", path, werr)
		}
	case !errors.Is(err, os.ErrExist):
		return nil, fmt.Errorf("signedurl: create %s: %w", path, err)
	}
	return Load(path)
}

func mac(key []byte, resource string, expires int64) []byte {
	m := hmac.New(sha256.New, key)
	// The resource name cannot contain a NUL, so the message parses one way only.
	m.Write([]byte("jiayuan signed url v1\x00" + resource + "\x00" + strconv.FormatInt(expires, 10)))
	return m.Sum(nil)
}

// Sign returns the query parameters granting access to resource until expires.
func (s *Signer) Sign(resource string, expires time.Time) url.Values {
	exp := expires.Unix()
	return url.Values{
		ParamExpires:   {strconv.FormatInt(exp, 10)},
		ParamSignature: {base64.RawURLEncoding.EncodeToString(mac(s.keys[0], resource, exp))},
	}
}

// Verify checks that expires and signature (the query parameters Sign made) grant access to
// resource at now: ErrInvalid when they were not made for it with one of the keys, ErrExpired
// when they were but now is past expires. The signature is compared in constant time.
func (s *Signer) Verify(resource, expires, signature string, now time.Time) error {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || strconv.FormatInt(exp, 10) != expires {
		return ErrInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(signature)
	if err != nil {
		return ErrInvalid
	}
	ok := false
	for _, k := range s.keys {
		// Every key is tried, so the time taken does not tell which one matched.
		if hmac.Equal(sig, mac(k, resource, exp)) {
			ok = true
		}
	}
	if !ok {
		return ErrInvalid
	}
	if !now.Before(time.Unix(exp, 0)) {
		return ErrExpired
	}
	return nil
}
