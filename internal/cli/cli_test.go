package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	regionv1 "github.com/jiayuan/jiayuan/gen/jiayuan/region/v1"
	"github.com/jiayuan/jiayuan/internal/cli"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// run runs the CLI with an empty environment plus env.
func run(ctx context.Context, args []string, env map[string]string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cli.Run(ctx, args, cli.IO{Out: &out, Err: &errb, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		if !ok && k == "JIAYUAN_METRICS_LISTEN" {
			// Several `serve` in one test would all want the default :9464 (and this machine
			// may run something there): a port of the system's choosing unless a test names one.
			return "127.0.0.1:0", true
		}
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
		{"serve without personal data keys", []string{"serve", "partner", "--regions", "demo", "--db-url", "sqlite::memory:"}, nil,
			[]string{"JIAYUAN_PERSONAL_DATA_KEYS (--personal-data-keys): must be set"}},
		{"rotate-keys without keys", []string{"rotate-keys", "demand", "--db-url", "sqlite::memory:"}, nil,
			[]string{"JIAYUAN_PERSONAL_DATA_KEYS (--personal-data-keys): must be set"}},
		{"rotate-keys of no service", []string{"rotate-keys", "parking"}, nil, []string{`unknown service "parking"`, "partner, demand"}},
		{"serve unknown service", []string{"serve", "parking"}, nil, []string{`unknown service "parking"`}},
		{"gateway without upstream", []string{"serve", "gateway"}, nil, []string{"JIAYUAN_PARTNER_ADDR (--partner-addr)", "JIAYUAN_DEMAND_ADDR (--demand-addr)"}},
		{"service without its peer", []string{"serve", "demand", "--regions", "demo", "--db-url", "sqlite::memory:"}, nil,
			[]string{"JIAYUAN_PARTNER_ADDR (--partner-addr)", "JIAYUAN_ESCALATION_ADDR (--escalation-addr)", "JIAYUAN_CONTRACT_ADDR (--contract-addr)", "JIAYUAN_PEER_TOKEN_FILE (--peer-token-file): must be set: demand calls partner, escalation, contract as itself"}},
		{"escalation without its rules", []string{"serve", "escalation", "--regions", "demo", "--db-url", "sqlite::memory:"}, nil,
			[]string{"JIAYUAN_RULES (--rules): must be set", "JIAYUAN_DEMAND_ADDR (--demand-addr)"}},
		{"escalation with a sweep too often", []string{"serve", "escalation", "--sweep-interval", "10ms"}, nil,
			[]string{"JIAYUAN_SWEEP_INTERVAL (--sweep-interval): must be at least 1s"}},
		{"contract warning of a duty due today", []string{"serve", "contract", "--due-soon-workdays", "0"}, nil,
			[]string{"JIAYUAN_DUE_SOON_WORKDAYS (--due-soon-workdays): 0: want 1 to 30 working days"}},
		{"contract with a negative inactivity from env", []string{"serve", "contract"}, map[string]string{"JIAYUAN_INACTIVE_DAYS": "-3"},
			[]string{"JIAYUAN_INACTIVE_DAYS (--inactive-days): -3: want 1 to 365 days"}},
		{"contract inactivity of years", []string{"serve", "contract", "--inactive-days", "1400"}, nil,
			[]string{"JIAYUAN_INACTIVE_DAYS (--inactive-days): 1400: want 1 to 365 days"}},
		{"follow-up settings on a service without contracts", []string{"serve", "demand", "--inactive-days", "14"}, nil,
			[]string{"flag provided but not defined: -inactive-days"}},
		{"dev with a zero inactivity", []string{"dev", "--inactive-days", "0"}, nil,
			[]string{"JIAYUAN_INACTIVE_DAYS (--inactive-days): 0: want 1 to 365 days"}},
		{"rules flag on a service without rules", []string{"serve", "partner", "--rules", "demo"}, nil,
			[]string{"flag provided but not defined: -rules"}},
		{"peer address from env", []string{"serve", "demand", "--regions", "demo", "--db-url", "sqlite::memory:", "--peer-token-file", "/run/token"},
			map[string]string{"JIAYUAN_PARTNER_ADDR": "partner"}, []string{`JIAYUAN_PARTNER_ADDR (--partner-addr): "partner" is not host:port`}},
		{"peer client certificate without a CA", []string{"serve", "demand", "--peer-tls-cert", "/tls/tls.crt", "--peer-tls-key", "/tls/tls.key"}, nil,
			[]string{"JIAYUAN_PEER_TLS_CA (--peer-tls-ca): mutual TLS to the peers needs --peer-tls-ca too"}},
		{"peer client certificate without its key", []string{"serve", "demand"}, map[string]string{"JIAYUAN_PEER_TLS_CERT": "/tls/tls.crt"},
			[]string{"JIAYUAN_PEER_TLS_CERT (--peer-tls-cert): set both"}},
		{"a messaging gateway over plain http", []string{"serve", "demand", "--notify-webhook-url", "http://sms.jiangnan.example/hook", "--notify-webhook-secret-file", "/run/secret"}, nil,
			[]string{"JIAYUAN_NOTIFY_WEBHOOK_URL (--notify-webhook-url): must be https://"}},
		{"a messaging gateway over plain http on this machine, in production", []string{"serve", "demand"},
			map[string]string{"JIAYUAN_NOTIFY_WEBHOOK_URL": "http://127.0.0.1:8088/hook", "JIAYUAN_NOTIFY_WEBHOOK_SECRET_FILE": "/run/secret"},
			[]string{"JIAYUAN_NOTIFY_WEBHOOK_URL (--notify-webhook-url): must be https://"}},
		{"a messaging gateway without a secret", []string{"serve", "demand", "--notify-webhook-url", "https://sms.jiangnan.example/hook"}, nil,
			[]string{"JIAYUAN_NOTIFY_WEBHOOK_SECRET_FILE (--notify-webhook-secret-file): must be set with --notify-webhook-url"}},
		{"bad quiet hours", []string{"serve", "demand", "--notify-quiet-hours", "22-7", "--notify-max-attempts", "0"}, nil,
			[]string{"JIAYUAN_NOTIFY_QUIET_HOURS (--notify-quiet-hours): \"22-7\": want HH:MM-HH:MM", "JIAYUAN_NOTIFY_MAX_ATTEMPTS (--notify-max-attempts): 0: want 1 to 50"}},
		{"escalation's gateway over plain http", []string{"serve", "escalation", "--notify-webhook-url", "http://sms.jiangnan.example/hook", "--notify-webhook-secret-file", "/run/secret"}, nil,
			[]string{"JIAYUAN_NOTIFY_WEBHOOK_URL (--notify-webhook-url): must be https://"}},
		{"a gateway CA without a gateway", []string{"serve", "escalation", "--notify-webhook-ca", "/run/ca.pem"}, nil,
			[]string{"JIAYUAN_NOTIFY_WEBHOOK_CA (--notify-webhook-ca): is only for --notify-webhook-url, which is not set"}},
		{"notify flags on a service that notifies nobody", []string{"serve", "partner", "--notify-webhook-url", "https://sms.jiangnan.example/hook"}, nil,
			[]string{"flag provided but not defined: -notify-webhook-url"}},
		{"dev with a remote gateway over plain http", []string{"dev", "--notify-webhook-url", "http://sms.jiangnan.example/hook", "--notify-webhook-secret-file", "/run/secret"}, nil,
			[]string{"JIAYUAN_NOTIFY_WEBHOOK_URL (--notify-webhook-url): http:// is accepted only to a loopback address"}},
		{"bad log level", []string{"serve", "gateway", "--partner-addr", "127.0.0.1:1", "--log-level", "loud"}, nil, []string{"JIAYUAN_LOG_LEVEL (--log-level)"}},
		{"token without role", []string{"token", "--scope", "450105"}, nil, []string{"JIAYUAN_ROLE (--role)"}},
		{"migrate without database", []string{"migrate", "partner"}, nil, []string{"JIAYUAN_DB_URL (--db-url)"}},
		{"rate limit of an unknown role", []string{"serve", "partner", "--rate-limits", "mayor=1:1"}, nil, []string{"--rate-limits (JIAYUAN_RATE_LIMITS)", `unknown role "mayor"`}},
		{"rate limit allowing nothing", []string{"serve", "partner"}, map[string]string{"JIAYUAN_RATE_LIMITS": "resident=0:1"}, []string{"JIAYUAN_RATE_LIMITS", "positive"}},
		{"stream cap of none", []string{"serve", "partner", "--max-streams-per-caller", "0", "--max-concurrent-streams", "0"}, nil,
			[]string{"JIAYUAN_MAX_STREAMS_PER_CALLER (--max-streams-per-caller): must be at least 1", "JIAYUAN_MAX_CONCURRENT_STREAMS (--max-concurrent-streams): must be positive"}},
		{"gateway behind a proxy that is no network", []string{"serve", "gateway", "--trusted-proxies", "lb.example"}, nil, []string{"--trusted-proxies", `"lb.example" is not an address or a network`}},
		{"gateway not slowing failures", []string{"serve", "gateway", "--partner-addr", "127.0.0.1:1", "--demand-addr", "127.0.0.1:2"},
			map[string]string{"JIAYUAN_AUTH_FAILURE_LIMIT": "off"}, []string{"JIAYUAN_AUTH_FAILURE_LIMIT (--auth-failure-limit): cannot be off"}},
		{"pool size in the database URL", []string{"serve", "partner", "--db-pool-size", "-1"},
			map[string]string{"JIAYUAN_DB_URL": "postgres://partner@db:5432/partner?pool_max_conns=50"},
			[]string{"JIAYUAN_DB_URL (--db-url): holds pool_max_conns: set --db-pool-size instead", "JIAYUAN_DB_POOL_SIZE (--db-pool-size): must not be negative"}},
		{"client names without mutual TLS", []string{"serve", "partner", "--tls-client-names", "gateway.jiayuan-jiangnan.svc"}, nil,
			[]string{"JIAYUAN_TLS_CLIENT_NAMES (--tls-client-names): needs --tls-client-ca"}},
		{"jwks floor negative", []string{"serve", "partner", "--auth-jwks-min-fetch-interval", "-1s"}, nil, []string{"JIAYUAN_AUTH_JWKS_MIN_FETCH_INTERVAL (--auth-jwks-min-fetch-interval): must be positive"}},
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

// TestTokenFindsTheSuitesKey: `jiayuan token` signs with the key of the suite's data
// directory, found from a subdirectory too, and never makes a key of its own.
func TestTokenFindsTheSuitesKey(t *testing.T) {
	repo := t.TempDir()
	data := filepath.Join(repo, ".data")
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(data, "dev-signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(t.Context(), signer.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(repo, "services", "demand")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	args := []string{"token", "--role", "admin", "--scope", "450105"}
	for _, tt := range []struct {
		name, wd string
		env      map[string]string
		extra    []string
		wantErr  string // empty: a token the suite accepts
	}{
		{name: "from the repository root", wd: repo},
		{name: "from a subdirectory", wd: sub},
		{name: "data dir from the environment", wd: elsewhere, env: map[string]string{"JIAYUAN_DATA_DIR": data}},
		{name: "data dir flag", wd: elsewhere, extra: []string{"--data-dir", data}},
		{name: "outside any suite", wd: elsewhere, wantErr: filepath.Join(elsewhere, ".data", "dev-signing-key.pem")},
		{name: "a data dir without a key", wd: repo, extra: []string{"--data-dir", elsewhere}, wantErr: filepath.Join(elsewhere, "dev-signing-key.pem")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(tt.wd)
			code, tok, stderr := run(t.Context(), append(slices.Clone(args), tt.extra...), tt.env)
			if tt.wantErr != "" {
				if code == 0 || !strings.Contains(stderr, "no dev signing key") || !strings.Contains(stderr, tt.wantErr) {
					t.Fatalf("exit %d, stderr %q: want a refusal naming %s", code, stderr, tt.wantErr)
				}
				for _, dir := range []string{elsewhere, filepath.Join(elsewhere, ".data")} {
					if _, err := os.Stat(filepath.Join(dir, "dev-signing-key.pem")); !os.IsNotExist(err) {
						t.Fatalf("token created a key in %s", dir)
					}
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if _, err := verifier.Verify(t.Context(), strings.TrimSpace(tok)); err != nil {
				t.Fatalf("the suite rejects the token: %v", err)
			}
		})
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

// devAuth writes the public half of a data directory's dev key and returns the settings that
// verify its tokens, as a real identity provider's would be configured.
func devAuth(t *testing.T, dir string) map[string]string {
	t.Helper()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(dir, "dev-signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pub, signer.VerifierConfig().PublicKeyPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	// And the personal data key ring it would have made.
	keys := filepath.Join(dir, suite.DevKeysFile)
	if _, err := suite.LoadOrCreateKeys(keys); err != nil {
		t.Fatal(err)
	}
	// And its photo directory and link key (the demand service reads them; partner keeps no photos).
	if _, err := suite.DevPhotos(dir); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"JIAYUAN_AUTH_ISSUER": auth.DevIssuer, "JIAYUAN_AUTH_AUDIENCE": auth.DevAudience, "JIAYUAN_AUTH_PUBLIC_KEY_FILE": pub,
		"JIAYUAN_PERSONAL_DATA_KEYS": keys, "JIAYUAN_PHOTO_STORE": "file:" + filepath.Join(dir, suite.DevPhotoDir),
		"JIAYUAN_PHOTO_URL_KEY_FILE": filepath.Join(dir, suite.DevPhotoURLKey)}
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestServeRateLimitsAreSet: `serve <service>` enforces the limits its settings give, here a
// resident allowed 1 call a second in bursts of 2.
func TestServeRateLimitsAreSet(t *testing.T) {
	dir := t.TempDir()
	authEnv := devAuth(t, dir)
	code, tok, stderr := run(t.Context(), []string{"token", "--data-dir", dir, "--role", "resident", "--scope", "450105001001"}, nil)
	if code != 0 {
		t.Fatalf("token: %s", stderr)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		if code, _, stderr := run(ctx, []string{"serve", "partner"}, merge(authEnv, map[string]string{
			"JIAYUAN_GRPC_LISTEN": addr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "partner.db"), "JIAYUAN_REGIONS": "demo",
			"JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_RATE_LIMITS": "resident=1:2",
			"JIAYUAN_CONTRACT_ADDR": "127.0.0.1:1", "JIAYUAN_PEER_TOKEN_FILE": peerToken(t, dir),
		})); code != 0 {
			t.Errorf("serve partner exited %d: %s", code, stderr)
		}
	}()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+strings.TrimSpace(tok))
	client := regionv1.NewRegionServiceClient(conn)
	var codes_ []codes.Code
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := client.GetRegion(rctx, &regionv1.GetRegionRequest{Name: "regions/450105"})
		if status.Code(err) != codes.Unavailable {
			codes_ = append(codes_, status.Code(err))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partner not serving: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 2 {
		_, err := client.GetRegion(rctx, &regionv1.GetRegionRequest{Name: "regions/450105"})
		codes_ = append(codes_, status.Code(err))
	}
	if !slices.Equal(codes_, []codes.Code{codes.OK, codes.OK, codes.ResourceExhausted}) {
		t.Errorf("three calls of a resident allowed 1:2: %v, want OK, OK, RESOURCE_EXHAUSTED", codes_)
	}
}

// TestServePeerTokenFileIsRead: a service with peers does not start without its token.
func TestServePeerTokenFileIsRead(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"missing", "", "no such file"},
		{"empty", "\n", "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokenFile := filepath.Join(dir, tc.name+".token")
			if tc.content != "" {
				if err := os.WriteFile(tokenFile, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := run(t.Context(), []string{"serve", "demand", "--grpc-listen", "127.0.0.1:0"}, merge(devAuth(t, dir), map[string]string{
				"JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "demand.db"), "JIAYUAN_REGIONS": "demo",
				"JIAYUAN_PARTNER_ADDR": "127.0.0.1:1", "JIAYUAN_ESCALATION_ADDR": "127.0.0.1:1", "JIAYUAN_CONTRACT_ADDR": "127.0.0.1:1", "JIAYUAN_PEER_TOKEN_FILE": tokenFile,
			}))
			if code == 0 || !strings.Contains(stderr, "JIAYUAN_PEER_TOKEN_FILE (--peer-token-file)") || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
		})
	}
}

// TestServeServiceAndGateway runs the services and the gateway as Kubernetes does (`jiayuan
// serve`), configured through the environment, and calls them with a token from `jiayuan
// token`, verified with the dev key's public half. The demand service calls partner with its
// own token, from a file as a mounted Secret provides it.
func TestServeServiceAndGateway(t *testing.T) {
	dir := t.TempDir()
	authEnv := devAuth(t, dir) // the key `jiayuan dev` would have made
	code, tok, stderr := run(t.Context(), []string{"token", "--data-dir", dir, "--role", "community_staff", "--scope", "450105001001"}, nil)
	if code != 0 {
		t.Fatalf("token: %s", stderr)
	}
	code, sysTok, stderr := run(t.Context(), []string{"token", "--data-dir", dir, "--role", "system", "--subject", "jiayuan-demand", "--scope", "450105"}, nil)
	if code != 0 {
		t.Fatalf("token: %s", stderr)
	}
	tokenFile := filepath.Join(dir, "demand-peer-token")
	if err := os.WriteFile(tokenFile, []byte(sysTok), 0o600); err != nil {
		t.Fatal(err)
	}
	code, escTok, stderr := run(t.Context(), []string{"token", "--data-dir", dir, "--role", "system", "--subject", "jiayuan-escalation", "--scope", "450105"}, nil)
	if code != 0 {
		t.Fatalf("token: %s", stderr)
	}
	escTokenFile := filepath.Join(dir, "escalation-peer-token")
	if err := os.WriteFile(escTokenFile, []byte(escTok), 0o600); err != nil {
		t.Fatal(err)
	}
	partnerAddr, demandAddr, escalationAddr, httpAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	// Where each process serves its Prometheus metrics.
	metricsAt := map[string]string{"partner": freeAddr(t), "demand": freeAddr(t), "escalation": freeAddr(t), "contract": freeAddr(t), "reporting": freeAddr(t), "gateway": freeAddr(t)}
	contractAddr := freeAddr(t)
	reportingAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 6)
	// Stop everything and wait, however the test ends, so nothing logs after it.
	t.Cleanup(func() {
		cancel()
		for range 6 {
			<-done
		}
	})
	serve := func(args []string, env map[string]string) {
		code, _, stderr := run(ctx, args, env)
		if code != 0 {
			t.Errorf("%s exited %d: %s", strings.Join(args, " "), code, stderr)
		}
		done <- code
	}
	go serve([]string{"serve", "partner"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": partnerAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "partner.db"), "JIAYUAN_REGIONS": "demo",
		"JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_METRICS_LISTEN": metricsAt["partner"], "JIAYUAN_CONTRACT_ADDR": contractAddr, "JIAYUAN_PEER_TOKEN_FILE": escTokenFile,
	}))
	go serve([]string{"serve", "demand"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": demandAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "demand.db"), "JIAYUAN_REGIONS": "demo",
		"JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_PARTNER_ADDR": partnerAddr, "JIAYUAN_ESCALATION_ADDR": escalationAddr, "JIAYUAN_PEER_TOKEN_FILE": tokenFile,
		"JIAYUAN_METRICS_LISTEN": metricsAt["demand"], "JIAYUAN_CONTRACT_ADDR": contractAddr,
	}))
	go serve([]string{"serve", "escalation"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": escalationAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "escalation.db"), "JIAYUAN_REGIONS": "demo",
		"JIAYUAN_RULES": "demo", "JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_DEMAND_ADDR": demandAddr, "JIAYUAN_PEER_TOKEN_FILE": escTokenFile,
		"JIAYUAN_METRICS_LISTEN": metricsAt["escalation"],
	}))
	// Contract calls demand and partner with a system token, as escalation does.
	go serve([]string{"serve", "contract"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": contractAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "contract.db"), "JIAYUAN_REGIONS": "demo",
		"JIAYUAN_RULES": "demo", "JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_DEMAND_ADDR": demandAddr, "JIAYUAN_PARTNER_ADDR": partnerAddr,
		"JIAYUAN_PEER_TOKEN_FILE": escTokenFile, "JIAYUAN_METRICS_LISTEN": metricsAt["contract"],
		"JIAYUAN_DUE_SOON_WORKDAYS": "3", "JIAYUAN_INACTIVE_DAYS": "21",
	}))
	// Reporting follows the four feeds with a system token (escalation's will do: same role).
	go serve([]string{"serve", "reporting"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": reportingAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "reporting.db"), "JIAYUAN_REGIONS": "demo",
		"JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_PARTNER_ADDR": partnerAddr, "JIAYUAN_DEMAND_ADDR": demandAddr,
		"JIAYUAN_ESCALATION_ADDR": escalationAddr, "JIAYUAN_CONTRACT_ADDR": contractAddr, "JIAYUAN_PEER_TOKEN_FILE": escTokenFile,
		"JIAYUAN_METRICS_LISTEN": metricsAt["reporting"],
	}))
	go serve([]string{"serve", "gateway", "--http-listen", httpAddr, "--partner-addr", partnerAddr, "--demand-addr", demandAddr,
		"--escalation-addr", escalationAddr, "--contract-addr", contractAddr, "--reporting-addr", reportingAddr, "--drain-delay", "10ms", "--metrics-listen", metricsAt["gateway"]}, nil)

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
	// Every process serves its metrics on its own port, named for its service.
	for name, addr := range metricsAt {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatalf("%s metrics: %v", name, err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `service_name="jiayuan-`+name+`"`) {
			t.Errorf("%s metrics: %s, page without service_name=\"jiayuan-%s\":\n%.2000s", name, resp.Status, name, page)
		}
	}
	call := func(method, path, body string) map[string]any {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+httpAddr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out
	}
	call("GET", "/v1/partners", "")
	call("GET", "/v1/demands", "")
	call("GET", "/v1/cases", "")
	if h := call("GET", "/v1/reports/headline?regionCode=450105001001&period.startDate=2026-01-01&period.endDate=2026-12-31", ""); h["figures"] == nil {
		t.Errorf("headline %v", h)
	}
	if board := call("GET", "/v1/cases:board?regionCode=450105001001", ""); board["colours"] == nil {
		t.Errorf("board %v", board)
	}
	// `serve` leaves reflection off unless --reflection says otherwise.
	if err := reflect(t, partnerAddr, strings.TrimSpace(tok)); status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection on `serve partner` by default: %v, want UNIMPLEMENTED", err)
	}
	// Matching asks partner for candidates with demand's own token from the file: a wrong or
	// missing one would fail the match.
	project := call("POST", "/v1/projects", `{"title":"周三下午托管","category":"CATEGORY_CHILDCARE","listType":"LIST_TYPE_ELDERLY_AND_CHILDREN","communityCode":"450105001001"}`)
	name, _ := project["name"].(string)
	call("POST", "/v1/"+name+":changeStatus", `{"status":"PROJECT_STATUS_APPROVED","reply":"项目已批准"}`)
	call("POST", "/v1/"+name+":match", `{}`)
}

// reflect lists the services at addr over server reflection with token.
func reflect(t *testing.T, addr, token string) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return err
	}
	// A stream the server has already ended fails Send with io.EOF; Recv has the status.
	_ = stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}})
	_, err = stream.Recv()
	return err
}

// peerToken writes a placeholder peer token file under dir, for a service whose peer the test
// never calls.
func peerToken(t *testing.T, dir string) string {
	t.Helper()
	f := filepath.Join(dir, "placeholder-peer-token")
	if err := os.WriteFile(f, []byte("placeholder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
