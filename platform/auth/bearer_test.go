package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/jiayuan/jiayuan/platform/auth"
)

// selfSignedTLS returns a server certificate for 127.0.0.1 and a client configuration trusting
// it.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "partner"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// recordingServer serves gRPC health on a loopback port and records the authorization header
// of each call.
func recordingServer(t *testing.T, creds credentials.TransportCredentials) (addr string, seen func() []string) {
	t.Helper()
	var (
		mu   sync.Mutex
		auth []string
	)
	srv := grpc.NewServer(grpc.Creds(creds), grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		auth = append(auth, strings.Join(md.Get("authorization"), ","))
		mu.Unlock()
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(auth)
	}
}

func staticToken(tok string, err error) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, err }
}

func TestBearerCredentials(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	errIDP := errors.New("identity provider unreachable")
	for _, tc := range []struct {
		name          string
		tls           bool
		allowInsecure bool
		token         func(context.Context) (string, error)
		// dialErr: grpc.NewClient refuses the combination; callErr: the call fails with it.
		dialErr, callErr string
		want             string
	}{
		{name: "plaintext allowed", allowInsecure: true, token: staticToken("tok-1", nil), want: "Bearer tok-1"},
		{name: "TLS", tls: true, token: staticToken("tok-2", nil), want: "Bearer tok-2"},
		{name: "TLS with insecure allowed", tls: true, allowInsecure: true, token: staticToken("tok-3", nil), want: "Bearer tok-3"},
		{name: "plaintext refused", token: staticToken("tok-4", nil), dialErr: "transport level security"},
		{name: "token source failing", allowInsecure: true, token: staticToken("", errIDP), callErr: "identity provider unreachable"},
		{name: "empty token", tls: true, token: staticToken("", nil), callErr: "empty token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := auth.NewBearerCredentials(tc.token, tc.allowInsecure)
			if got := creds.RequireTransportSecurity(); got != !tc.allowInsecure {
				t.Errorf("RequireTransportSecurity() = %v", got)
			}
			serverCreds, clientCreds := insecure.NewCredentials(), insecure.NewCredentials()
			if tc.tls {
				serverCreds, clientCreds = credentials.NewTLS(serverTLS), credentials.NewTLS(clientTLS.Clone())
			}
			addr, seen := recordingServer(t, serverCreds)
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(clientCreds), grpc.WithPerRPCCredentials(creds))
			if tc.dialErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.dialErr) {
					t.Fatalf("NewClient error = %v, want %q", err, tc.dialErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, err = healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
			if tc.callErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.callErr) {
					t.Fatalf("call error = %v, want %q", err, tc.callErr)
				}
				if got := seen(); len(got) != 0 {
					t.Errorf("the server received a call: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := seen(); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("server saw authorization %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBearerCredentialsCheckTheConnection: credentials that require TLS refuse to produce the
// header when the connection's security is unknown, whatever the dial options said.
func TestBearerCredentialsCheckTheConnection(t *testing.T) {
	called := false
	creds := auth.NewBearerCredentials(func(context.Context) (string, error) { called = true; return "tok", nil }, false)
	if md, err := creds.GetRequestMetadata(t.Context()); err == nil || called {
		t.Fatalf("GetRequestMetadata outside a secure connection = %v, %v (token asked: %v)", md, err, called)
	}
	md, err := auth.NewBearerCredentials(staticToken("tok", nil), true).GetRequestMetadata(t.Context())
	if err != nil || md["authorization"] != "Bearer tok" || len(md) != 1 {
		t.Fatalf("GetRequestMetadata = %v, %v", md, err)
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	base := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	// write sets the file's content and modification time (tests must not depend on the file
	// system's timestamp resolution).
	write := func(content string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	source := auth.TokenFile(path)
	for _, step := range []struct {
		name    string
		do      func()
		want    string
		wantErr string
	}{
		{name: "missing file", do: func() {}, wantErr: path},
		{name: "first read trims whitespace", do: func() { write("  tok-a\n", base) }, want: "tok-a"},
		{name: "rotated", do: func() { write("tok-b\n", base.Add(time.Second)) }, want: "tok-b"},
		// Same size and time: served from memory, not read again.
		{name: "unchanged metadata is cached", do: func() { write("tok-c\n", base.Add(time.Second)) }, want: "tok-b"},
		{name: "newer time is read", do: func() { write("tok-c\n", base.Add(2*time.Second)) }, want: "tok-c"},
		{name: "other size is read", do: func() { write("tok-dd\n", base.Add(2*time.Second)) }, want: "tok-dd"},
		{name: "emptied", do: func() { write(" \n", base.Add(3*time.Second)) }, wantErr: path + " is empty"},
		{name: "removed", do: func() { os.Remove(path) }, wantErr: path},
		{name: "back", do: func() { write("tok-e", base.Add(4*time.Second)) }, want: "tok-e"},
	} {
		step.do()
		got, err := source(t.Context())
		switch {
		case step.wantErr != "" && (err == nil || !strings.Contains(err.Error(), step.wantErr)):
			t.Fatalf("%s: error = %v, want one naming %q", step.name, err, step.wantErr)
		case step.wantErr == "" && (err != nil || got != step.want):
			t.Fatalf("%s: token = %q, %v; want %q", step.name, got, err, step.want)
		}
	}
}

// TestTokenFileKubernetesRotation rotates the token as the kubelet does for a Secret volume:
// the file is a symlink through ..data to a timestamped directory, and ..data is swapped.
func TestTokenFileKubernetesRotation(t *testing.T) {
	dir := t.TempDir()
	version := func(name, token string, mtime time.Time) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name, "token")
		if err := os.WriteFile(f, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	version("..2026_03_04_10_00_00.1", "first-token", base)
	if err := os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token")); err != nil {
		t.Fatal(err)
	}
	source := auth.TokenFile(filepath.Join(dir, "token"))
	for i, want := range []string{"first-token", "first-token"} {
		if got, err := source(t.Context()); err != nil || got != want {
			t.Fatalf("read %d: %q, %v; want %q", i, got, err, want)
		}
	}
	version("..2026_03_05_10_00_00.2", "second-token", base.Add(24*time.Hour))
	if got, err := source(t.Context()); err != nil || got != "second-token" {
		t.Fatalf("after rotation: %q, %v", got, err)
	}
}

func TestDevSignerTokenSource(t *testing.T) {
	s, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	system := auth.Principal{Subject: "jiayuan-demand", Roles: []auth.Role{auth.RoleSystem}, Scope: []string{"450105"}}
	v := devVerifier(t, s)

	t.Run("valid and reused", func(t *testing.T) {
		source := s.TokenSource(system, time.Hour)
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			tokens = map[string]bool{}
		)
		for range 8 {
			wg.Go(func() {
				tok, err := source(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				tokens[tok] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(tokens) != 1 {
			t.Fatalf("%d distinct tokens from concurrent calls, want 1", len(tokens))
		}
		for tok := range tokens {
			p, err := v.Verify(t.Context(), tok)
			if err != nil || p.Subject != system.Subject || !p.HasRole(auth.RoleSystem) || !slices.Equal(p.Scope, system.Scope) {
				t.Fatalf("Verify = %+v, %v", p, err)
			}
		}
	})

	t.Run("renewed when a quarter remains", func(t *testing.T) {
		const ttl = 2 * time.Second
		source := s.TokenSource(system, ttl)
		first, err := source(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := source(t.Context()); again != first {
			t.Fatal("a fresh token was replaced")
		}
		time.Sleep(ttl*3/4 + 100*time.Millisecond)
		renewed, err := source(t.Context())
		if err != nil || renewed == first {
			t.Fatalf("after three quarters of the ttl: same token %v, error %v", renewed == first, err)
		}
	})

	t.Run("invalid principal", func(t *testing.T) {
		if _, err := s.TokenSource(auth.Principal{Subject: "x"}, time.Hour)(t.Context()); err == nil || !strings.Contains(err.Error(), "no roles") {
			t.Fatalf("error = %v", err)
		}
		if _, err := s.TokenSource(system, 0)(t.Context()); err == nil {
			t.Fatal("a zero ttl minted a token")
		}
	})
}
