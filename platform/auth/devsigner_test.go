package auth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/auth"
)

var devPrincipal = auth.Principal{
	Subject: "dev-street-officer",
	Roles:   []auth.Role{auth.RoleStreetOfficer},
	Scope:   []string{"450105003"},
	Name:    "那洪街道干部",
}

func devVerifier(t *testing.T, s *auth.DevSigner, opts ...auth.VerifierOption) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), s.VerifierConfig(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDevSignerRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "auth", "dev-signing-key.pem")
	s, err := auth.LoadOrCreateDevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %#o, want 0600", perm)
	}
	dirInfo, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := dirInfo.Mode().Perm(); perm != 0o700 {
		t.Errorf("key directory mode = %#o, want 0700", perm)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key (no temporary files left)", len(entries))
	}

	cfg := s.VerifierConfig()
	if cfg.Issuer != "jiayuan-dev" || cfg.Audience != "jiayuan" || cfg.JWKSURL != "" || len(cfg.PublicKeyPEM) == 0 {
		t.Errorf("VerifierConfig() = %+v", cfg)
	}
	if strings.Contains(string(cfg.PublicKeyPEM), "PRIVATE") {
		t.Fatal("VerifierConfig carries the private key")
	}

	tok, err := s.Token(devPrincipal, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := devVerifier(t, s).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != devPrincipal.Subject || len(p.Roles) != 1 || p.Roles[0] != auth.RoleStreetOfficer ||
		len(p.Scope) != 1 || p.Scope[0] != "450105003" || p.Name != devPrincipal.Name || p.Partner != "" {
		t.Errorf("principal = %+v, want %+v", p, devPrincipal)
	}
	// A department's staff carry their department through the token.
	dept := auth.Principal{Subject: "power-1", Roles: []auth.Role{auth.RoleDepartment}, Scope: []string{"450105"}, Department: "power"}
	dtok, err := s.Token(dept, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := devVerifier(t, s).Verify(context.Background(), dtok); err != nil || got.Department != "power" {
		t.Errorf("department principal = %+v, %v", got, err)
	}

	// The same verification path checks expiry: an hour and a bit later the token is refused.
	later := func() time.Time { return time.Now().Add(time.Hour + 2*time.Minute) }
	var te *auth.TokenError
	if _, err := devVerifier(t, s, auth.WithClock(later)).Verify(context.Background(), tok); !errors.As(err, &te) || te.Reason != "token expired" {
		t.Errorf("expired dev token: %v", err)
	}
	earlier := func() time.Time { return time.Now().Add(-10 * time.Minute) }
	if _, err := devVerifier(t, s, auth.WithClock(earlier)).Verify(context.Background(), tok); !errors.As(err, &te) || te.Reason != "token not yet valid" {
		t.Errorf("dev token before its nbf: %v", err)
	}
}

func TestDevKeySurvivesReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dev.pem")
	s1, err := auth.LoadOrCreateDevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s1.Token(devPrincipal, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// A restart loads the same key: the old token still verifies with the new process's config.
	s2, err := auth.LoadOrCreateDevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if s2.KeyID() != s1.KeyID() {
		t.Errorf("key id changed across reload: %s → %s", s1.KeyID(), s2.KeyID())
	}
	if _, err := devVerifier(t, s2).Verify(context.Background(), tok); err != nil {
		t.Errorf("token from before the reload refused: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("reload rewrote the key file")
	}

	// Another data dir means another key: its verifier refuses the first key's token.
	s3, err := auth.LoadOrCreateDevKey(filepath.Join(dir, "other", "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var te *auth.TokenError
	if _, err := devVerifier(t, s3).Verify(context.Background(), tok); !errors.As(err, &te) || te.Reason != "invalid signature" {
		t.Errorf("token verified by another dev key: %v", err)
	}
}

func TestDevKeyConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.pem")
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := auth.LoadOrCreateDevKey(path)
			errs[i] = err
			if err == nil {
				ids[i] = s.KeyID()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("loader %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("loader %d got key %s, loader 0 got %s", i, ids[i], ids[0])
		}
	}
}

func TestDevKeyRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pem")
	if _, err := auth.LoadOrCreateDevKey(good); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		mode os.FileMode
		want string
	}{
		{"readable by others", data, 0o644, "lets others read it; want 0600"},
		{"not PEM", []byte("hello"), 0o600, "want a PEM PRIVATE KEY block"},
		{"a public key", newIDP(t).publicPEM(t), 0o600, "want a PEM PRIVATE KEY block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".pem")
			if err := os.WriteFile(path, tt.data, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := auth.LoadOrCreateDevKey(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadOrCreateDevKey = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDevSignerRefusesInvalidPrincipals(t *testing.T) {
	s, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    auth.Principal
		ttl  time.Duration
		want string
	}{
		{"no subject", auth.Principal{Roles: []auth.Role{auth.RoleAdmin}}, time.Hour, "subject is empty"},
		{"no roles", auth.Principal{Subject: "x"}, time.Hour, "no roles"},
		{"unknown role", auth.Principal{Subject: "x", Roles: []auth.Role{"mayor"}}, time.Hour, `unknown role "mayor"`},
		{"partner without record", auth.Principal{Subject: "x", Roles: []auth.Role{auth.RolePartner}}, time.Hour, "the partner role needs the partner claim"},
		{"department claim without the role", auth.Principal{Subject: "x", Roles: []auth.Role{auth.RoleDistrictOfficer}, Department: "power"}, time.Hour, "department claim \"power\" given without the department role"},
		{"department claim not an id", auth.Principal{Subject: "x", Roles: []auth.Role{auth.RoleDepartment}, Department: "Power Bureau"}, time.Hour, "is not a department id"},
		{"zero ttl", devPrincipal, 0, "ttl 0s must be positive"},
	}
	for _, tt := range tests {
		if _, err := s.Token(tt.p, tt.ttl); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Token error = %v, want %q", tt.name, err, tt.want)
		}
	}
}
