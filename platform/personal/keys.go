package personal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Keys is a key ring for personal data at rest: AES-256-GCM keys by id, one of them current.
// Data is sealed under the current key; every ciphertext names its key, so data sealed under
// an older key of the ring still opens, and a rotation (adding a key, making it current,
// re-sealing) needs no downtime. A Keys is immutable and safe for concurrent use.
//
// The key file is JSON:
//
//	{"current": "2026-12", "keys": {"2026-06": "<base64 of 32 bytes>", "2026-12": "<…>"}}
type Keys struct {
	current string
	aeads   map[string]cipher.AEAD
	lookups map[string][]byte // per key id: the HMAC key of lookup hashes, derived from the key
}

// keyFile is the key file's JSON.
type keyFile struct {
	Current string            `json:"current"`
	Keys    map[string]string `json:"keys"`
}

// A key id is short and printable: it is stored with every ciphertext.
var keyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// ErrNoKeys means no key ring was configured.
var ErrNoKeys = errors.New("personal: no personal data keys")

// sealVersion is the first byte of every ciphertext: the layout below.
const sealVersion = 1

// LoadKeys reads a key ring from the JSON file at path.
func LoadKeys(path string) (*Keys, error) {
	if path == "" {
		return nil, ErrNoKeys
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("personal: read the key file: %w", err)
	}
	k, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// ParseKeys reads a key ring from the key file's JSON.
func ParseKeys(data []byte) (*Keys, error) {
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("personal: decode the key file: %w", err)
	}
	if len(f.Keys) == 0 {
		return nil, errors.New("personal: the key file has no keys")
	}
	k := &Keys{current: f.Current, aeads: map[string]cipher.AEAD{}, lookups: map[string][]byte{}}
	for id, b64 := range f.Keys {
		if !keyID.MatchString(id) {
			return nil, fmt.Errorf("personal: key id %q: want 1 to 32 of A-Z a-z 0-9 . _ -", id)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("personal: key %s: not base64: %w", id, err)
		}
		if len(raw) != 32 {
			return nil, fmt.Errorf("personal: key %s: %d bytes, want 32 (AES-256)", id, len(raw))
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("personal: key %s: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("personal: key %s: %w", id, err)
		}
		k.aeads[id] = aead
		// A key serves one purpose each way: the lookup key is derived, not the AES key itself.
		mac := hmac.New(sha256.New, raw)
		mac.Write([]byte("jiayuan personal lookup"))
		k.lookups[id] = mac.Sum(nil)
	}
	if _, ok := k.aeads[f.Current]; !ok {
		return nil, fmt.Errorf("personal: the current key %q is not among the keys", f.Current)
	}
	return k, nil
}

// NewKeyFile returns the JSON of a key file holding one fresh random key, current, called id.
func NewKeyFile(id string) ([]byte, error) {
	return AddKey(nil, id)
}

// AddKey returns the key file data with a fresh random key called id added and made current
// (nil data: a new file). The older keys stay, so what they sealed still opens.
func AddKey(data []byte, id string) ([]byte, error) {
	f := keyFile{Keys: map[string]string{}}
	if data != nil {
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("personal: decode the key file: %w", err)
		}
		if f.Keys == nil {
			f.Keys = map[string]string{}
		}
	}
	if !keyID.MatchString(id) {
		return nil, fmt.Errorf("personal: key id %q: want 1 to 32 of A-Z a-z 0-9 . _ -", id)
	}
	if _, ok := f.Keys[id]; ok {
		return nil, fmt.Errorf("personal: the key file already has a key %s", id)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("personal: new key: %w", err)
	}
	f.Keys[id] = base64.StdEncoding.EncodeToString(raw)
	f.Current = id
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("personal: encode the key file: %w", err)
	}
	return append(out, '\n'), nil
}

// Current is the id of the key data is sealed under.
func (k *Keys) Current() string { return k.current }

// IDs are the ids of the ring's keys, sorted.
func (k *Keys) IDs() []string {
	ids := make([]string, 0, len(k.aeads))
	for id := range k.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Seal encrypts plaintext under the current key, bound to record (the record's resource name,
// as associated data: a ciphertext copied to another record does not open there). The result
// is self-describing:
//
//	version (1 byte) | key id length (1 byte) | key id | nonce (12 bytes) | ciphertext and tag
func (k *Keys) Seal(record string, plaintext []byte) ([]byte, error) {
	aead := k.aeads[k.current]
	out := make([]byte, 0, 2+len(k.current)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, sealVersion, byte(len(k.current)))
	out = append(out, k.current...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("personal: nonce: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, []byte(record)), nil
}

// Open decrypts what Seal sealed for record, under whichever key of the ring it names.
func (k *Keys) Open(record string, sealed []byte) ([]byte, error) {
	id, rest, err := splitSealed(sealed)
	if err != nil {
		return nil, fmt.Errorf("personal: open %s: %w", record, err)
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("personal: open %s: sealed under key %q, which is not in the ring", record, id)
	}
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("personal: open %s: ciphertext too short", record)
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(record))
	if err != nil {
		return nil, fmt.Errorf("personal: open %s: not sealed for this record or corrupt: %w", record, err)
	}
	return plain, nil
}

// SealedWith returns the id of the key sealed was sealed under.
func SealedWith(sealed []byte) (string, error) {
	id, _, err := splitSealed(sealed)
	return id, err
}

// IsCurrent reports whether sealed was sealed under the current key: a rotation re-seals
// the rest.
func (k *Keys) IsCurrent(sealed []byte) bool {
	id, _, err := splitSealed(sealed)
	return err == nil && id == k.current
}

func splitSealed(sealed []byte) (id string, rest []byte, err error) {
	if len(sealed) < 2 || sealed[0] != sealVersion {
		return "", nil, errors.New("not a sealed value")
	}
	n := int(sealed[1])
	if len(sealed) < 2+n {
		return "", nil, errors.New("truncated key id")
	}
	return string(sealed[2 : 2+n]), sealed[2+n:], nil
}

// Lookup is the keyed hash (HMAC-SHA256 under the current key) of a phone number, for
// exact-match lookups in a column of its own: equal numbers hash equal whatever their
// punctuation ("0771-5551234" and "07715551234"), and the number cannot be recovered from
// the hash without the key. An empty number hashes to nil.
func (k *Keys) Lookup(phone string) []byte {
	return k.lookup(k.current, phone)
}

// Lookups is the phone number's hash under every key of the ring, current first: what a
// query matches while a rotation has re-hashed only some rows.
func (k *Keys) Lookups(phone string) [][]byte {
	if digitsOf(phone) == "" {
		return nil
	}
	out := [][]byte{k.Lookup(phone)}
	for _, id := range k.IDs() {
		if id != k.current {
			out = append(out, k.lookup(id, phone))
		}
	}
	return out
}

func (k *Keys) lookup(id, phone string) []byte {
	d := digitsOf(phone)
	if d == "" {
		return nil
	}
	mac := hmac.New(sha256.New, k.lookups[id])
	mac.Write([]byte(d))
	return mac.Sum(nil)
}

// LookupOf is the keyed hash (HMAC-SHA256 under the current key) of a secret other than a
// phone number, such as a follow-up code, for exact-match lookups: the value is hashed as
// given (normalise it first), and purpose (e.g. "follow-up code") separates the hashes of
// different kinds of value, so that equal strings of two kinds never hash equal, nor equal a
// phone's hash. An empty value hashes to nil.
func (k *Keys) LookupOf(purpose, value string) []byte {
	return k.lookupOf(k.current, purpose, value)
}

// LookupsOf is LookupOf under every key of the ring, current first: what a query matches
// while a rotation has re-hashed only some rows.
func (k *Keys) LookupsOf(purpose, value string) [][]byte {
	if value == "" {
		return nil
	}
	out := [][]byte{k.LookupOf(purpose, value)}
	for _, id := range k.IDs() {
		if id != k.current {
			out = append(out, k.lookupOf(id, purpose, value))
		}
	}
	return out
}

func (k *Keys) lookupOf(id, purpose, value string) []byte {
	if value == "" {
		return nil
	}
	mac := hmac.New(sha256.New, k.lookups[id])
	// The purpose, a zero byte, the value: no two (purpose, value) pairs share an input, and
	// no input is a phone's (digits only).
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return mac.Sum(nil)
}

func digitsOf(phone string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
}

// GenerateKeys returns a ring of one fresh random key called id: for tests and for a
// development data directory's first start (which writes it to a file with NewKeyFile).
func GenerateKeys(id string) (*Keys, error) {
	data, err := NewKeyFile(id)
	if err != nil {
		return nil, err
	}
	return ParseKeys(data)
}
