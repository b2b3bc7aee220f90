package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
)

func staticVerifier(t *testing.T, i *idp) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Issuer: testIssuer, Audience: testAudience, PublicKeyPEM: i.publicPEM(t),
	}, auth.WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	good := newIDP(t)
	other := newIDP(t)
	v := staticVerifier(t, good)
	base := validClaims()

	tests := []struct {
		name   string
		token  string
		reason string // "" for accepted
	}{
		{"valid", good.sign(t, base), ""},
		{"audience list containing ours", good.sign(t, with(base, map[string]any{"aud": []string{"account", testAudience}})), ""},
		{"expired within the tolerated skew", good.sign(t, with(base, map[string]any{"exp": testNow.Add(-30 * time.Second).Unix()})), ""},
		{"no nbf or iat", good.sign(t, with(base, map[string]any{"nbf": nil, "iat": nil})), ""},
		{"partner with its record", good.sign(t, with(base, map[string]any{"roles": []string{"partner"}, "partner": testPartner})), ""},
		{"expired", good.sign(t, with(base, map[string]any{"exp": testNow.Add(-2 * time.Minute).Unix()})), "token expired"},
		{"not yet valid", good.sign(t, with(base, map[string]any{"nbf": testNow.Add(5 * time.Minute).Unix()})), "token not yet valid"},
		{"issued in the future", good.sign(t, with(base, map[string]any{"iat": testNow.Add(5 * time.Minute).Unix()})), "token issued in the future"},
		{"no exp", good.sign(t, with(base, map[string]any{"exp": nil})), "invalid claims"},
		{"wrong issuer", good.sign(t, with(base, map[string]any{"iss": "https://evil.example"})), "wrong issuer"},
		{"wrong audience", good.sign(t, with(base, map[string]any{"aud": "another-app"})), "wrong audience"},
		{"no audience", good.sign(t, with(base, map[string]any{"aud": nil})), "wrong audience"},
		{"forged: signed by another key", other.sign(t, base), "invalid signature"},
		{"alg none", unsigned(t, base), "signing algorithm not accepted"},
		{"HS256 with the public key as secret", hmacWithPublicKey(t, good.publicPEM(t), base), "signing algorithm not accepted"},
		{"garbage", "not-a-jwt", "malformed token"},
		{"three garbage parts", "a.b.c", "malformed token"},
		{"empty", "", "malformed token"},
		{"tampered payload", tamper(t, good.sign(t, base)), "invalid signature"},
		{"oversized", good.sign(t, with(base, map[string]any{"name": strings.Repeat("长", 8000)})), "malformed token"},
		{"unknown role", good.sign(t, with(base, map[string]any{"roles": []string{"community_staff", "superuser"}})), "invalid claims"},
		{"empty subject", good.sign(t, with(base, map[string]any{"sub": ""})), "invalid claims"},
		{"no subject", good.sign(t, with(base, map[string]any{"sub": nil})), "invalid claims"},
		{"empty roles", good.sign(t, with(base, map[string]any{"roles": []string{}})), "invalid claims"},
		{"no roles", good.sign(t, with(base, map[string]any{"roles": nil})), "invalid claims"},
		{"roles as a string", good.sign(t, with(base, map[string]any{"roles": "admin"})), "invalid claims"},
		{"partner role without a record", good.sign(t, with(base, map[string]any{"roles": []string{"partner"}})), "invalid claims"},
		{"partner role with a malformed record", good.sign(t, with(base, map[string]any{"roles": []string{"partner"}, "partner": "partners/1"})), "invalid claims"},
		{"partner record without the role", good.sign(t, with(base, map[string]any{"partner": testPartner})), "invalid claims"},
		{"empty scope entry", good.sign(t, with(base, map[string]any{"region_scope": []string{""}})), "invalid claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.token)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Verify refused a good token: %v", err)
				}
				return
			}
			var te *auth.TokenError
			if !errors.As(err, &te) {
				t.Fatalf("Verify = %+v, %v; want a TokenError %q", p, err, tt.reason)
			}
			if te.Reason != tt.reason {
				t.Errorf("reason = %q (%v), want %q", te.Reason, err, tt.reason)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Error("the error repeats the token")
			}
		})
	}
}

// tamper changes one claim of a signed token without re-signing it.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload := with(validClaims(), map[string]any{"roles": []string{"admin"}})
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestVerifyReturnsThePrincipal(t *testing.T) {
	i := newIDP(t)
	v := staticVerifier(t, i)
	tok := i.sign(t, with(validClaims(), map[string]any{
		"roles":        []string{"partner", "resident"},
		"partner":      testPartner,
		"region_scope": []string{"450105001", "450105003001"},
	}))
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Principal{
		Subject: "user-7f3a",
		Roles:   []auth.Role{auth.RolePartner, auth.RoleResident},
		Scope:   []string{"450105001", "450105003001"},
		Partner: testPartner,
		Name:    "张三丰",
	}
	if p.Subject != want.Subject || !slices.Equal(p.Roles, want.Roles) || !slices.Equal(p.Scope, want.Scope) ||
		p.Partner != want.Partner || p.Name != want.Name {
		t.Errorf("principal = %+v, want %+v", p, want)
	}
}

func TestVerifierConfigValidate(t *testing.T) {
	i := newIDP(t)
	pub := i.publicPEM(t)
	priv := func() []byte {
		der, err := x509.MarshalPKCS8PrivateKey(i.key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}()
	rsaSmall := func() []byte {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()

	tests := []struct {
		name string
		cfg  auth.VerifierConfig
		want string
	}{
		{"static key", auth.VerifierConfig{Issuer: "iss", Audience: "aud", PublicKeyPEM: pub}, ""},
		{"two static keys", auth.VerifierConfig{Issuer: "iss", Audience: "aud", PublicKeyPEM: append(append([]byte{}, pub...), newIDP(t).publicPEM(t)...)}, ""},
		{"https jwks", auth.VerifierConfig{Issuer: "iss", Audience: "aud", JWKSURL: "https://idp.example/certs"}, ""},
		{"loopback http jwks", auth.VerifierConfig{Issuer: "iss", Audience: "aud", JWKSURL: "http://127.0.0.1:8080/certs"}, ""},
		{
			"empty",
			auth.VerifierConfig{},
			"JIAYUAN_AUTH_ISSUER (--auth-issuer): must be set\n" +
				"JIAYUAN_AUTH_AUDIENCE (--auth-audience): must be set\n" +
				"JIAYUAN_AUTH_JWKS_URL (--auth-jwks-url): set it or JIAYUAN_AUTH_PUBLIC_KEY_FILE (--auth-public-key-file) to say which keys sign tokens",
		},
		{
			"both key sources",
			auth.VerifierConfig{Issuer: "iss", Audience: "aud", JWKSURL: "https://idp.example/certs", PublicKeyPEM: pub},
			"JIAYUAN_AUTH_JWKS_URL (--auth-jwks-url): set either it or JIAYUAN_AUTH_PUBLIC_KEY_FILE (--auth-public-key-file), not both",
		},
		{
			"plain http jwks",
			auth.VerifierConfig{Issuer: "iss", Audience: "aud", JWKSURL: "http://idp.example/certs"},
			`JIAYUAN_AUTH_JWKS_URL (--auth-jwks-url): "http://idp.example/certs": must be https (plain http only for localhost)`,
		},
		{
			"relative jwks",
			auth.VerifierConfig{Issuer: "iss", Audience: "aud", JWKSURL: "/certs"},
			`JIAYUAN_AUTH_JWKS_URL (--auth-jwks-url): "/certs" is not an absolute URL with a host`,
		},
		{
			"issuer with spaces",
			auth.VerifierConfig{Issuer: "my idp", Audience: "aud", PublicKeyPEM: pub},
			`JIAYUAN_AUTH_ISSUER (--auth-issuer): "my idp" must not contain spaces`,
		},
		{
			"private key given",
			auth.VerifierConfig{Issuer: "iss", Audience: "aud", PublicKeyPEM: priv},
			`JIAYUAN_AUTH_PUBLIC_KEY_FILE (--auth-public-key-file): PEM block 1 is "PRIVATE KEY"; want PUBLIC KEY or CERTIFICATE blocks only`,
		},
		{
			"not PEM",
			auth.VerifierConfig{Issuer: "iss", Audience: "aud", PublicKeyPEM: []byte("ssh-ed25519 AAAA")},
			`JIAYUAN_AUTH_PUBLIC_KEY_FILE (--auth-public-key-file): holds no PEM public key`,
		},
		{
			"short RSA key",
			auth.VerifierConfig{Issuer: "iss", Audience: "aud", PublicKeyPEM: rsaSmall},
			`JIAYUAN_AUTH_PUBLIC_KEY_FILE (--auth-public-key-file): PEM block 1: RSA key of 1024 bits is too short (want at least 2048)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
			_, nerr := auth.NewVerifier(context.Background(), tt.cfg)
			if (nerr == nil) != (tt.want == "") {
				t.Errorf("NewVerifier error = %v", nerr)
			}
		})
	}
}

func TestVerifierConfigFromFlagsAndEnv(t *testing.T) {
	i := newIDP(t)
	keyFile := filepath.Join(t.TempDir(), "idp.pem")
	if err := os.WriteFile(keyFile, i.publicPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"JIAYUAN_AUTH_ISSUER":          testIssuer,
		"JIAYUAN_AUTH_PUBLIC_KEY_FILE": keyFile,
	}
	var cfg auth.VerifierConfig
	fs := config.NewFlagSet("test", config.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"--auth-audience", testAudience}); err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), cfg, auth.WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), i.sign(t, validClaims())); err != nil {
		t.Errorf("token refused by a verifier configured from flags: %v", err)
	}

	fs = config.NewFlagSet("test", config.WithLookupEnv(func(string) (string, bool) { return "", false }))
	(&auth.VerifierConfig{}).RegisterFlags(fs)
	err = fs.Parse([]string{"--auth-public-key-file", filepath.Join(t.TempDir(), "missing.pem")})
	if err == nil || !strings.HasPrefix(err.Error(), "--auth-public-key-file (JIAYUAN_AUTH_PUBLIC_KEY_FILE): invalid value") {
		t.Errorf("missing key file: error = %v", err)
	}
}

// jwksServer is the identity provider's key endpoint: it serves whatever key set the test sets.
type jwksServer struct {
	*httptest.Server
	mu       sync.Mutex
	keys     jose.JSONWebKeySet
	status   int
	requests atomic.Int32
}

func newJWKSServer(t *testing.T, keys ...jose.JSONWebKey) *jwksServer {
	s := &jwksServer{keys: jose.JSONWebKeySet{Keys: keys}, status: http.StatusOK}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path != "/protocol/openid-connect/certs" {
			http.NotFound(w, r)
			return
		}
		if s.status != http.StatusOK {
			http.Error(w, "down for maintenance", s.status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.keys)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, keys ...jose.JSONWebKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
	s.keys = jose.JSONWebKeySet{Keys: keys}
}

func (s *jwksServer) verifier(t *testing.T, c *clock) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Issuer: testIssuer, Audience: testAudience, JWKSURL: s.URL + "/protocol/openid-connect/certs",
	}, auth.WithClock(c.Now), auth.WithHTTPClient(s.Client()), auth.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyWithJWKS(t *testing.T) {
	first := newIDP(t)
	srv := newJWKSServer(t, first.jwk())
	clk := newClock()
	v := srv.verifier(t, clk)
	ctx := context.Background()

	if srv.requests.Load() != 0 {
		t.Error("NewVerifier fetched keys eagerly")
	}
	p, err := v.Verify(ctx, first.sign(t, validClaims()))
	if err != nil || p.Subject != "user-7f3a" {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	if _, err := v.Verify(ctx, first.sign(t, validClaims())); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d key set fetches for two tokens with a known key, want 1 (cached)", n)
	}

	// The provider rotates its key: a token naming the new key makes the verifier refetch,
	// once the floor since the last fetch has passed.
	second := newIDP(t)
	srv.set(http.StatusOK, first.jwk(), second.jwk())
	var te *auth.TokenError
	if _, err := v.Verify(ctx, second.sign(t, validClaims())); !errors.As(err, &te) || te.Reason != "invalid signature" {
		t.Errorf("token from a new key within a second of the last fetch: %v, want it refused (no refetch yet)", err)
	}
	clk.Advance(auth.DefaultJWKSMinFetchInterval)
	if _, err := v.Verify(ctx, second.sign(t, validClaims())); err != nil {
		t.Fatalf("token signed with the rotated-in key refused after the floor: %v", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d key set fetches after the rotation, want 2", n)
	}

	// A key the provider never published is refused even though fetching works.
	clk.Advance(auth.DefaultJWKSMinFetchInterval)
	if _, err := v.Verify(ctx, newIDP(t).sign(t, validClaims())); !errors.As(err, &te) || te.Reason != "invalid signature" {
		t.Errorf("token from an unknown key: %v", err)
	}
	// Claims are checked as strictly as with a static key.
	if _, err := v.Verify(ctx, first.sign(t, with(validClaims(), map[string]any{"aud": "other"}))); !errors.As(err, &te) || te.Reason != "wrong audience" {
		t.Errorf("wrong audience via JWKS: %v", err)
	}
}

func TestVerifyWithJWKSDown(t *testing.T) {
	i := newIDP(t)
	srv := newJWKSServer(t)
	srv.set(http.StatusServiceUnavailable)
	clk := newClock()
	v := srv.verifier(t, clk)
	_, err := v.Verify(context.Background(), i.sign(t, validClaims()))
	if !errors.Is(err, auth.ErrKeysUnavailable) {
		t.Fatalf("Verify with the key set down = %v, want ErrKeysUnavailable", err)
	}
	var te *auth.TokenError
	if errors.As(err, &te) {
		t.Error("an unreachable key set is reported as a bad token")
	}
	// Right after a failed fetch no other is made: the token is still unverifiable.
	srv.set(http.StatusOK, i.jwk())
	if _, err := v.Verify(context.Background(), i.sign(t, validClaims())); !errors.Is(err, auth.ErrKeysUnavailable) {
		t.Errorf("right after a failed fetch: %v, want ErrKeysUnavailable", err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d fetches right after a failed one, want 1", n)
	}
	// Once the provider is back, the same token verifies a few seconds later: a failure
	// shortens the floor, so a moment's outage does not lock callers out for a minute.
	clk.Advance(5 * time.Second)
	if _, err := v.Verify(context.Background(), i.sign(t, validClaims())); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestVerifyWithPlainHTTPLoopbackJWKS(t *testing.T) {
	i := newIDP(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{i.jwk()}})
	}))
	defer srv.Close()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL,
	}, auth.WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), i.sign(t, validClaims())); err != nil {
		t.Error(err)
	}
}

func TestVerifyCertificatePEM(t *testing.T) {
	i := newIDP(t)
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, i.key.Public(), i.key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Issuer: testIssuer, Audience: testAudience,
		PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, auth.WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), i.sign(t, validClaims())); err != nil {
		t.Error(err)
	}
}

func TestVerifyTokenLifetime(t *testing.T) {
	i := newIDP(t)
	verifier := func(people, system time.Duration) *auth.Verifier {
		v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
			Issuer: testIssuer, Audience: testAudience, PublicKeyPEM: i.publicPEM(t),
			MaxTokenLifetime: people, MaxSystemTokenLifetime: system,
		}, auth.WithClock(fixedClock))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	iat := testNow.Add(-time.Minute)
	lived := func(d time.Duration, roles ...string) map[string]any {
		c := with(validClaims(), map[string]any{"iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(d).Unix()})
		if len(roles) > 0 {
			c["roles"] = roles
		}
		return c
	}
	const day, tenYears = 24 * time.Hour, 10 * 365 * 24 * time.Hour
	tests := []struct {
		name           string
		people, system time.Duration // the config; zero: defaults
		claims         map[string]any
		refused        bool
	}{
		{"a day, by default", 0, 0, lived(day), false},
		{"ten years, by default", 0, 0, lived(tenYears), true},
		{"a day and a second", 0, 0, lived(day + time.Second), true},
		{"no iat: judged from now", 0, 0, with(validClaims(), map[string]any{"iat": nil, "exp": testNow.Add(tenYears).Unix()}), true},
		{"no iat, within a day of now", 0, 0, with(validClaims(), map[string]any{"iat": nil, "exp": testNow.Add(23 * time.Hour).Unix()}), false},
		{"system: the people's limit by default", 0, 0, lived(2*day, "system"), true},
		{"system with its own limit", 0, 30 * day, lived(2*day, "system"), false},
		{"system's limit is not the people's", 0, 30 * day, lived(2 * day), true},
		{"a shorter configured limit", time.Hour, 0, lived(2 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifier(tt.people, tt.system).Verify(context.Background(), i.sign(t, tt.claims))
			var te *auth.TokenError
			switch {
			case tt.refused && (!errors.As(err, &te) || te.Reason != "token lifetime too long"):
				t.Errorf("Verify = %v, want refused as too long-lived", err)
			case !tt.refused && err != nil:
				t.Errorf("Verify = %v, want accepted", err)
			}
		})
	}
}

func TestVerifierLifetimeFlags(t *testing.T) {
	env := map[string]string{"JIAYUAN_AUTH_MAX_SYSTEM_TOKEN_LIFETIME": "720h"}
	fs := config.NewFlagSet("t", config.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	var c auth.VerifierConfig
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--auth-max-token-lifetime=8h"}); err != nil {
		t.Fatal(err)
	}
	if c.MaxTokenLifetime != 8*time.Hour || c.MaxSystemTokenLifetime != 720*time.Hour {
		t.Errorf("parsed %s and %s", c.MaxTokenLifetime, c.MaxSystemTokenLifetime)
	}
}
