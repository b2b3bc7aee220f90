package personal_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/platform/personal"
)

func TestSealOpen(t *testing.T) {
	k, err := personal.GenerateKeys("k1")
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("张三 13812345678")
	sealed, err := k.Seal("demands/a", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("13812345678")) {
		t.Fatal("the ciphertext holds the plaintext")
	}
	again, _ := k.Seal("demands/a", plain)
	if bytes.Equal(sealed, again) {
		t.Error("two seals of the same value are equal: the nonce is not fresh")
	}
	got, err := k.Open("demands/a", sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if id, err := personal.SealedWith(sealed); err != nil || id != "k1" {
		t.Errorf("SealedWith = %q, %v; want k1", id, err)
	}
	tests := []struct {
		name   string
		record string
		sealed []byte
	}{
		{"another record", "demands/b", sealed},
		{"a flipped byte", "demands/a", flip(sealed, len(sealed)-1)},
		{"truncated", "demands/a", sealed[:10]},
		{"not sealed", "demands/a", []byte("plain text")},
		{"empty", "demands/a", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := k.Open(tt.record, tt.sealed); err == nil {
				t.Errorf("Open = %q, want an error", got)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.json")
	first, err := personal.NewKeyFile("old")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, first, 0o600); err != nil {
		t.Fatal(err)
	}
	oldRing, err := personal.LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := oldRing.Seal("partners/p", []byte("李四"))
	oldHash := oldRing.Lookup("138-1234-5678")

	second, err := personal.AddKey(first, "new")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := personal.ParseKeys(second)
	if err != nil {
		t.Fatal(err)
	}
	if ring.Current() != "new" || strings.Join(ring.IDs(), ",") != "new,old" {
		t.Fatalf("current %s, ids %v", ring.Current(), ring.IDs())
	}
	if got, err := ring.Open("partners/p", sealed); err != nil || string(got) != "李四" {
		t.Fatalf("an old key's ciphertext: Open = %q, %v", got, err)
	}
	if ring.IsCurrent(sealed) {
		t.Error("a ciphertext under the old key counts as current")
	}
	resealed, _ := ring.Seal("partners/p", []byte("李四"))
	if !ring.IsCurrent(resealed) {
		t.Error("a fresh ciphertext is not under the current key")
	}
	if _, err := oldRing.Open("partners/p", resealed); err == nil {
		t.Error("a ring without the new key opened its ciphertext")
	}
	hashes := ring.Lookups("13812345678")
	if len(hashes) != 2 || !bytes.Equal(hashes[1], oldHash) || bytes.Equal(hashes[0], oldHash) {
		t.Errorf("Lookups under both keys: %x; old hash %x", hashes, oldHash)
	}
	if _, err := personal.AddKey(second, "new"); err == nil {
		t.Error("AddKey reused a key id")
	}
}

func TestLookup(t *testing.T) {
	k, _ := personal.GenerateKeys("k")
	other, _ := personal.GenerateKeys("k")
	if !bytes.Equal(k.Lookup("0771-5551234"), k.Lookup("07715551234")) {
		t.Error("punctuation changes the hash")
	}
	if bytes.Equal(k.Lookup("13812345678"), k.Lookup("13812345679")) {
		t.Error("two numbers hash equal")
	}
	if bytes.Equal(k.Lookup("13812345678"), other.Lookup("13812345678")) {
		t.Error("the hash does not depend on the key")
	}
	if k.Lookup("") != nil || k.Lookups(" ") != nil {
		t.Error("an empty number has a hash")
	}
}

func TestLookupOf(t *testing.T) {
	k, _ := personal.GenerateKeys("k")
	other, _ := personal.GenerateKeys("k")
	const code = "123456789012"
	if !bytes.Equal(k.LookupOf("follow-up code", code), k.LookupOf("follow-up code", code)) {
		t.Error("equal values hash apart")
	}
	if bytes.Equal(k.LookupOf("follow-up code", code), k.LookupOf("follow-up code", "123456789013")) {
		t.Error("two values hash equal")
	}
	if bytes.Equal(k.LookupOf("follow-up code", code), k.LookupOf("card", code)) {
		t.Error("the purpose does not separate the hashes")
	}
	if bytes.Equal(k.LookupOf("follow-up code", code), k.Lookup(code)) {
		t.Error("a value hashes as the phone number with its digits")
	}
	if bytes.Equal(k.LookupOf("follow-up code", code), other.LookupOf("follow-up code", code)) {
		t.Error("the hash does not depend on the key")
	}
	if k.LookupOf("follow-up code", "") != nil || k.LookupsOf("follow-up code", "") != nil {
		t.Error("an empty value has a hash")
	}

	// A ring being rotated matches the hash under the old key too.
	oldFile, _ := personal.NewKeyFile("old")
	oldRing, _ := personal.ParseKeys(oldFile)
	newFile, _ := personal.AddKey(oldFile, "new")
	ring, _ := personal.ParseKeys(newFile)
	hashes := ring.LookupsOf("follow-up code", code)
	if len(hashes) != 2 || !bytes.Equal(hashes[0], ring.LookupOf("follow-up code", code)) ||
		!bytes.Equal(hashes[1], oldRing.LookupOf("follow-up code", code)) {
		t.Errorf("LookupsOf under both keys: %x", hashes)
	}
}

func TestParseKeysRefuses(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"not json", `current: a`, "decode"},
		{"no keys", `{"current":"a","keys":{}}`, "no keys"},
		{"short key", `{"current":"a","keys":{"a":"AAAA"}}`, "32"},
		{"not base64", `{"current":"a","keys":{"a":"!!"}}`, "base64"},
		{"current missing", `{"current":"b","keys":{"a":"` + strings.Repeat("A", 43) + `="}}`, "current key"},
		{"bad id", `{"current":"a b","keys":{"a b":"` + strings.Repeat("A", 43) + `="}}`, "key id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := personal.ParseKeys([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseKeys = %v, want an error about %q", err, tt.want)
			}
		})
	}
	if _, err := personal.LoadKeys(""); err != personal.ErrNoKeys {
		t.Errorf("LoadKeys(\"\") = %v, want ErrNoKeys", err)
	}
}
