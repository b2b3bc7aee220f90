package signedurl_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/signedurl"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSignVerify(t *testing.T) {
	s, err := signedurl.New(key(1))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	const name = "demands/01JTESTDEMAND0000000000000/photos/01JTESTPHOTO00000000000000"
	q := s.Sign(name, now.Add(15*time.Minute))
	exp, sig := q.Get(signedurl.ParamExpires), q.Get(signedurl.ParamSignature)
	other, _ := signedurl.New(key(2))
	flip := []byte(sig)
	flip[0] ^= 1

	tests := []struct {
		name                   string
		resource, expires, sig string
		at                     time.Time
		signer                 *signedurl.Signer
		want                   error
	}{
		{"valid", name, exp, sig, now, s, nil},
		{"valid just before expiry", name, exp, sig, now.Add(15*time.Minute - time.Second), s, nil},
		{"expired", name, exp, sig, now.Add(15 * time.Minute), s, signedurl.ErrExpired},
		{"another resource", name[:len(name)-1] + "X", exp, sig, now, s, signedurl.ErrInvalid},
		{"a later expiry", name, "1800000901", sig, now, s, signedurl.ErrInvalid},
		{"expiry with a leading zero", name, "0" + exp, sig, now, s, signedurl.ErrInvalid},
		{"expiry not a number", name, "soon", sig, now, s, signedurl.ErrInvalid},
		{"a flipped signature", name, exp, string(flip), now, s, signedurl.ErrInvalid},
		{"no signature", name, exp, "", now, s, signedurl.ErrInvalid},
		{"signature not base64", name, exp, "%%%", now, s, signedurl.ErrInvalid},
		{"another deployment's key", name, exp, sig, now, other, signedurl.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.signer.Verify(tt.resource, tt.expires, tt.sig, tt.at); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "photo-url-key")
	s1, err := signedurl.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	// A second start reads the same key: links survive a restart.
	s2, err := signedurl.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Minute)
	q := s1.Sign("r", exp)
	if err := s2.Verify("r", q.Get("expires"), q.Get("signature"), time.Now()); err != nil {
		t.Errorf("the reloaded key does not verify: %v", err)
	}

	// Rotation: a new key first signs, the old one below still verifies.
	old, _ := os.ReadFile(path)
	fresh, _ := signedurl.NewKeyFile()
	rotated := filepath.Join(dir, "rotated")
	if err := os.WriteFile(rotated, append(append([]byte("# new key first\n"), fresh...), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	s3, err := signedurl.Load(rotated)
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Verify("r", q.Get("expires"), q.Get("signature"), time.Now()); err != nil {
		t.Errorf("a link signed with the old key fails after rotation: %v", err)
	}
	if q3 := s3.Sign("r", exp); q3.Get("signature") == q.Get("signature") {
		t.Error("after rotation the old key still signs")
	}

	for name, content := range map[string]string{
		"empty":      "",
		"short key":  base64.StdEncoding.EncodeToString(key(1)[:16]) + "\n",
		"not base64": "hunter2-secret-value\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := signedurl.Load(p)
		if err == nil {
			t.Errorf("%s: Load accepted it", name)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error repeats the file's content: %v", name, err)
		}
	}
	if _, err := signedurl.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}
