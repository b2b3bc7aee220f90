package cli_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/internal/cli"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// run runs the CLI with an empty environment plus env.
func run(ctx context.Context, args []string, env map[string]string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cli.Run(ctx, args, cli.IO{Out: &out, Err: &errb, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	return code, out.String(), errb.String()
}

func TestBadSettingsAreNamed(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"serve without database", []string{"serve", "partner", "--regions", "demo"}, nil, []string{"JIAYUAN_DB_URL (--db-url)"}},
		{"serve with bad listen from env", []string{"serve", "partner", "--regions", "demo", "--db-url", "sqlite::memory:"},
			map[string]string{"JIAYUAN_GRPC_LISTEN": "nowhere"}, []string{"JIAYUAN_GRPC_LISTEN (--grpc-listen)"}},
		{"serve unknown service", []string{"serve", "parking"}, nil, []string{`unknown service "parking"`}},
		{"gateway without upstream", []string{"serve", "gateway"}, nil, []string{"JIAYUAN_PARTNER_ADDR (--partner-addr)"}},
		{"bad log level", []string{"serve", "gateway", "--partner-addr", "127.0.0.1:1", "--log-level", "loud"}, nil, []string{"JIAYUAN_LOG_LEVEL (--log-level)"}},
		{"token without role", []string{"token", "--scope", "450105"}, nil, []string{"JIAYUAN_ROLE (--role)"}},
		{"migrate without database", []string{"migrate", "partner"}, nil, []string{"JIAYUAN_DB_URL (--db-url)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t.Context(), tt.args, tt.env)
			if code == 0 {
				t.Fatalf("exit 0, want a failure; stderr %q", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Fatalf("stderr %q does not name %q", stderr, w)
				}
			}
		})
	}
}

func TestTokenRefusedWithRealIssuer(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := run(t.Context(), []string{"token", "--data-dir", dir, "--role", "admin", "--scope", "450105"},
		map[string]string{"JIAYUAN_AUTH_ISSUER": "https://idp.example.gov.cn"})
	if code == 0 || !strings.Contains(stderr, "real identity provider") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "dev-signing-key.pem")); !os.IsNotExist(err) {
		t.Fatalf("a dev key was created anyway: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeServiceAndGateway runs the partner service and the gateway as Kubernetes does
// (`jiayuan serve`), configured through the environment, and calls them with a token from
// `jiayuan token`, verified with the dev key's public half.
func TestServeServiceAndGateway(t *testing.T) {
	dir := t.TempDir()
	code, tok, stderr := run(t.Context(), []string{"token", "--data-dir", dir, "--role", "community_staff", "--scope", "450105001001"}, nil)
	if code != 0 {
		t.Fatalf("token: %s", stderr)
	}
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(dir, "dev-signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pub, signer.VerifierConfig().PublicKeyPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	grpcAddr, httpAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 2)
	go func() {
		code, _, stderr := run(ctx, []string{"serve", "partner"}, map[string]string{
			"JIAYUAN_GRPC_LISTEN": grpcAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "partner.db"), "JIAYUAN_REGIONS": "demo",
			"JIAYUAN_AUTH_ISSUER": auth.DevIssuer, "JIAYUAN_AUTH_AUDIENCE": auth.DevAudience, "JIAYUAN_AUTH_PUBLIC_KEY_FILE": pub,
			"JIAYUAN_DRAIN_DELAY": "10ms",
		})
		if code != 0 {
			t.Errorf("serve partner exited %d: %s", code, stderr)
		}
		done <- code
	}()
	go func() {
		code, _, stderr := run(ctx, []string{"serve", "gateway", "--http-listen", httpAddr, "--partner-addr", grpcAddr, "--drain-delay", "10ms"}, nil)
		if code != 0 {
			t.Errorf("serve gateway exited %d: %s", code, stderr)
		}
		done <- code
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not healthy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", "http://"+httpAddr+"/v1/partners", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/partners: %d", resp.StatusCode)
	}
	cancel()
	<-done
	<-done
}
