package blob_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/jiayuan/jiayuan/platform/blob"
)

// fakeS3 serves an S3 API over TLS on loopback (gofakes3: the object store is a system outside
// ours), with bucket "photos", and returns its endpoint, a pool trusting its certificate and
// that certificate in PEM.
func fakeS3(t *testing.T) (endpoint string, roots *x509.CertPool, certPEM []byte) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("photos"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(gofakes3.New(backend).Server())
	t.Cleanup(ts.Close)
	roots = x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host, roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
}

func s3Store(t *testing.T, prefix string) *blob.S3 {
	t.Helper()
	endpoint, roots, _ := fakeS3(t)
	s, err := blob.NewS3(t.Context(), blob.S3Config{
		Endpoint: endpoint, Bucket: "photos", Region: "us-east-1", Prefix: prefix,
		AccessKeyID: "test-id", SecretAccessKey: "test-secret", RootCAs: roots,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs the same behaviour against every back end.
func TestConformance(t *testing.T) {
	backends := map[string]func(t *testing.T) blob.Store{
		"dir": func(t *testing.T) blob.Store {
			d, err := blob.NewDir(filepath.Join(t.TempDir(), "photos"))
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		"s3":        func(t *testing.T) blob.Store { return s3Store(t, "") },
		"s3-prefix": func(t *testing.T) blob.Store { return s3Store(t, "jiangnan") },
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := open(t)
			key := "demands/01JTESTDEMAND0000000000000/photos/01JTESTPHOTO00000000000000"
			data := []byte("\xff\xd8\xff\xe0 not really a jpeg\n with a newline\x00 and a zero")

			if _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("Get before Put: err = %v, want ErrNotFound", err)
			}
			if err := s.Put(ctx, key, data, "image/jpeg"); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, data) || got.ContentType != "image/jpeg" {
				t.Errorf("Get = %q (%s), want %q (image/jpeg)", got.Data, got.ContentType, data)
			}
			// Put replaces.
			if err := s.Put(ctx, key, []byte("png"), "image/png"); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, key); err != nil || string(got.Data) != "png" || got.ContentType != "image/png" {
				t.Errorf("Get after replace = %q (%s), %v", got.Data, got.ContentType, err)
			}
			// An empty object is an object.
			if err := s.Put(ctx, key+"-empty", nil, "image/png"); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, key+"-empty"); err != nil || len(got.Data) != 0 {
				t.Errorf("Get empty = %q, %v", got.Data, err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
			}
			// Deleting again is not an error: a cleanup can be retried.
			if err := s.Delete(ctx, key); err != nil {
				t.Errorf("second Delete: %v", err)
			}

			for _, bad := range []string{"", "/abs", "a//b", "../up", "a/../b", "a/./b", "a b", "a\\b", "ä", strings.Repeat("k", 513)} {
				if err := s.Put(ctx, bad, data, "image/jpeg"); err == nil {
					t.Errorf("Put(%q) accepted a bad key", bad)
				}
				if _, err := s.Get(ctx, bad); err == nil || errors.Is(err, blob.ErrNotFound) {
					t.Errorf("Get(%q) err = %v, want a key error", bad, err)
				}
			}
			for _, bad := range []string{"", "image/jpeg\nX-Evil: 1", "bild/jpeg\u00e4"} {
				if err := s.Put(ctx, key, data, bad); err == nil {
					t.Errorf("Put with content type %q accepted", bad)
				}
			}
		})
	}
}

func TestDirStaysInside(t *testing.T) {
	root := filepath.Join(t.TempDir(), "photos")
	d, err := blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(t.Context(), "a/b", []byte("x"), "image/png"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "b")); err != nil {
		t.Errorf("object not at its key's path: %v", err)
	}
	if err := d.Put(t.Context(), "../escape", []byte("x"), "image/png"); err == nil {
		t.Error("a key climbing out of the directory was accepted")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape")); err == nil {
		t.Error("a file was written outside the store's directory")
	}
}

func TestS3Refusals(t *testing.T) {
	endpoint, roots, _ := fakeS3(t)
	base := blob.S3Config{Endpoint: endpoint, Bucket: "photos", Region: "us-east-1", AccessKeyID: "id", SecretAccessKey: "secret", RootCAs: roots}
	tests := []struct {
		name   string
		change func(*blob.S3Config)
		want   string
	}{
		{"no endpoint", func(c *blob.S3Config) { c.Endpoint = "" }, "no endpoint"},
		{"a scheme", func(c *blob.S3Config) { c.Endpoint = "http://" + endpoint }, "no scheme"},
		{"no bucket", func(c *blob.S3Config) { c.Bucket = "" }, "no bucket"},
		{"no secret", func(c *blob.S3Config) { c.SecretAccessKey = "" }, "no credentials"},
		{"a missing bucket", func(c *blob.S3Config) { c.Bucket = "nope" }, "does not exist"},
		// TLS is always on: a store whose certificate is not trusted is refused.
		{"an untrusted certificate", func(c *blob.S3Config) { c.RootCAs = x509.NewCertPool() }, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.change(&cfg)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if _, err := blob.NewS3(ctx, cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewS3 err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	endpoint, _, certPEM := fakeS3(t)
	dir := t.TempDir()
	// The store's CA as the PEM file a district mounts.
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "creds.env")
	if err := os.WriteFile(creds, []byte("# the district's photo bucket\nACCESS_KEY_ID=id\nSECRET_ACCESS_KEY = secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	setting := "s3://photos?endpoint=" + endpoint + "&region=us-east-1&prefix=jiangnan&ca_file=" + url.QueryEscape(caFile)

	s, err := blob.Open(t.Context(), setting, blob.OpenOptions{CredentialsFile: creds})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*blob.S3); !ok {
		t.Errorf("Open(%s) = %T, want *blob.S3", setting, s)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
	if _, err := blob.Open(t.Context(), setting, blob.OpenOptions{Getenv: func(k string) string { return env[k] }}); err != nil {
		t.Errorf("Open with credentials from the environment: %v", err)
	}
	if _, err := blob.Open(t.Context(), setting, blob.OpenOptions{Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("Open without credentials: err = %v", err)
	}
	for _, f := range []string{"file:" + filepath.Join(dir, "a"), filepath.Join(dir, "b")} {
		s, err := blob.Open(t.Context(), f, blob.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*blob.Dir); !ok {
			t.Errorf("Open(%s) = %T, want *blob.Dir", f, s)
		}
	}
	for _, bad := range []string{"", "s3://", "s3://photos", "s3://photos/path?endpoint=x", "s3://photos?endpoint=x&acl=public", "s3://k:v@photos?endpoint=x"} {
		if _, err := blob.Open(t.Context(), bad, blob.OpenOptions{CredentialsFile: creds}); err == nil {
			t.Errorf("Open(%q) accepted", bad)
		}
	}
	secretLine := filepath.Join(dir, "bad.env")
	if err := os.WriteFile(secretLine, []byte("hunter2-the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.Open(t.Context(), setting, blob.OpenOptions{CredentialsFile: secretLine}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a malformed credentials file: err = %v; want an error that does not repeat the line", err)
	}
}
