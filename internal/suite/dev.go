package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/jiayuan/jiayuan/gateway"
	"github.com/jiayuan/jiayuan/gateway/openapi"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/internal/demo"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// DevConfig configures `jiayuan dev`.
type DevConfig struct {
	// DataDir holds every service's SQLite database, the dev signing key, the photos (photos/)
	// and the key their links are signed with; restarts keep it.
	DataDir string
	// Host is the interface every port binds to; loopback unless you mean otherwise.
	Host string
	// HTTPPort is the gateway's port; PortOffset shifts every service's gRPC port from its
	// Spec.DevPort (so two suites can run side by side, as tests do).
	HTTPPort   int
	PortOffset int
	// EphemeralPorts listens on ports the system picks (for tests); the addresses are in Dev.
	EphemeralPorts bool
	Tree           *region.Tree
	Logger         *slog.Logger
	Telemetry      *telemetry.Providers
	// Seed loads the demo data into an empty suite.
	Seed bool
	// Rules is the district's rules file for the escalation service; "demo" or empty for the
	// demo rules, which go with the demo tree.
	Rules string
	// TokenTTL is how long the printed dev tokens stay valid.
	TokenTTL time.Duration
	// FollowUp is the contract service's follow-up settings; zero fields take its defaults.
	FollowUp FollowUp
	// Notify is how notifications reach residents; with no webhook they are logged (masked).
	// An http webhook on a loopback address is accepted here (a gateway stub on this machine).
	Notify Notify
	// Out receives the banner: addresses and a token per role.
	Out io.Writer
	// Ready, when set, is called once everything serves.
	Ready func(*Dev)
	// Limits are every service's and the gateway's rate limits and stream caps; nil means
	// limits.DefaultConfig(), as in production.
	Limits *limits.Config
	// MetricsPort serves the Prometheus metrics of every service and the gateway (one
	// process, one page; Telemetry needs a MetricsHandler: telemetry.WithPrometheus), shifted
	// by PortOffset. Zero serves none unless EphemeralPorts, which serves them on a port the
	// system picks.
	MetricsPort int
}

// Dev is a running suite.
type Dev struct {
	Signer      *auth.DevSigner
	GatewayURL  string
	ServiceAddr map[string]string
	// Tokens are ready dev tokens by role.
	Tokens map[auth.Role]string
	// MetricsURL is the Prometheus scrape page (http://host:port/metrics); empty when none.
	MetricsURL string
}

// dept gives a department principal its department (rules.yaml's departments).
func dept(p auth.Principal, id string) auth.Principal {
	p.Department = id
	return p
}

// DevPrincipals are the demo callers the banner prints tokens for: one per role, each with
// the region scope such a person would have in the demo district.
func DevPrincipals(partnerName string) []auth.Principal {
	p := func(role auth.Role, name string, scope ...string) auth.Principal {
		return auth.Principal{Subject: "dev-" + strings.ReplaceAll(string(role), "_", "-"), Name: name, Roles: []auth.Role{role}, Scope: scope}
	}
	out := []auth.Principal{
		p(auth.RoleResident, "二桥西社区居民", demo.Erqiaoxi),
		p(auth.RoleGridWorker, "二桥西社区第一网格网格员", demo.Erqiaoxi+"001"),
		p(auth.RoleCommunityStaff, "二桥西社区工作人员", demo.Erqiaoxi),
		p(auth.RoleStreetOfficer, "江南街道干部", demo.Jiangnan),
		p(auth.RoleDistrictOfficer, "江南区干部", demo.District),
		dept(p(auth.RoleDepartment, "区住建局", demo.District), "housing"),
		p(auth.RoleAdmin, "平台管理员", demo.District),
		p(auth.RoleSystem, "jiayuan services", demo.District),
		p(auth.RoleAuditor, "区审计员", demo.District),
	}
	if partnerName != "" {
		pp := p(auth.RolePartner, "茶艺工作室", demo.Peihong)
		pp.Partner = partnerName
		out = append(out, pp)
	}
	return out
}

func (c DevConfig) port(p int) int {
	if c.EphemeralPorts {
		return 0
	}
	return p
}

// DevKeysFile is the key ring of personal data at rest in a dev data directory, made on
// first start.
const DevKeysFile = "personal-data-keys.json"

// LoadOrCreateKeys reads the key ring at path, first writing one fresh key there (readable by
// its owner only) when there is no file: a dev data directory's own ring.
func LoadOrCreateKeys(path string) (*personal.Keys, error) {
	data, err := personal.NewKeyFile("dev-1")
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
			return nil, fmt.Errorf("write the personal data keys: %w", werr)
		}
	case !errors.Is(err, os.ErrExist):
		return nil, fmt.Errorf("create the personal data keys: %w", err)
	}
	return personal.LoadKeys(path)
}

// RunDev runs every service and the gateway in this process until ctx is cancelled.
func RunDev(ctx context.Context, cfg DevConfig) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(cfg.DataDir, "dev-signing-key.pem"))
	if err != nil {
		return err
	}
	keys, err := LoadOrCreateKeys(filepath.Join(cfg.DataDir, DevKeysFile))
	if err != nil {
		return err
	}
	photos, err := DevPhotos(cfg.DataDir)
	if err != nil {
		return err
	}
	vc := signer.VerifierConfig()
	// The printed dev tokens live TokenTTL (a month in `jiayuan dev`, for a local suite), longer
	// than a real deployment's limit: this suite's own verifier accepts what it prints.
	vc.MaxTokenLifetime = max(auth.DefaultMaxTokenLifetime, cfg.TokenTTL)
	verifier, err := auth.NewVerifier(ctx, vc)
	if err != nil {
		return err
	}
	// The public half lets a service started on its own (`jiayuan serve`) accept dev tokens.
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "dev-signing-key.pub.pem"), signer.VerifierConfig().PublicKeyPEM, 0o644); err != nil {
		return fmt.Errorf("write the dev public key: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	dev := &Dev{Signer: signer, ServiceAddr: map[string]string{}, Tokens: map[auth.Role]string{}}
	var (
		wg    sync.WaitGroup
		conns []*grpc.ClientConn
	)
	// On every way out: stop what started, wait for it, and only then close the connections
	// the services call each other over.
	defer func() {
		cancel()
		wg.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	errs := make(chan error, len(Services())+1)
	var upstreams []gateway.Upstream
	// Every service listens before any is built: two services may call each other (demand and
	// escalation follow each other's feeds), and a connection needs only the address, being
	// made on first use.
	listeners := map[string]net.Listener{}
	defer func() {
		for _, l := range listeners {
			_ = l.Close() // those not yet handed to a node
		}
	}()
	for _, spec := range Services() {
		addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.port(spec.DevPort+cfg.PortOffset)))
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s: %w", spec.Name, addr, err)
		}
		listeners[spec.Name] = lis
		dev.ServiceAddr[spec.Name] = lis.Addr().String()
	}
	for _, spec := range Services() {
		abs, err := filepath.Abs(filepath.Join(cfg.DataDir, spec.Name+".db"))
		if err != nil {
			return err
		}
		peers := map[string]grpc.ClientConnInterface{}
		for _, name := range spec.Peers {
			addr, ok := dev.ServiceAddr[name]
			if !ok {
				return fmt.Errorf("%s calls %s, which is not in suite.Services()", spec.Name, name)
			}
			// Each service calls as itself, with a token the dev signer renews; plaintext is
			// fine on loopback.
			creds := auth.NewBearerCredentials(signer.TokenSource(ServicePrincipal(spec.Name, cfg.Tree), time.Hour), true)
			conn, err := DialPeer(addr, cfg.Telemetry,
				grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(creds))
			if err != nil {
				return fmt.Errorf("%s: peer %s: %w", spec.Name, name, err)
			}
			conns = append(conns, conn)
			peers[name] = conn
		}
		node, err := OpenNode(ctx, spec, NodeConfig{
			DatabaseURL: "sqlite:" + abs, Tree: cfg.Tree, Verifier: verifier, Logger: cfg.Logger, Telemetry: cfg.Telemetry,
			// Local runs stop at once on Ctrl-C: no load balancer needs draining. Reflection
			// lets grpcurl call the services without the protos (with a token, as any call).
			ServerOptions: server.Options{DrainDelay: -1, ShutdownTimeout: 5 * time.Second, Reflection: true},
			Peers:         peers,
			Keys:          keys,
			Photos:        photos,
			Notify:        devNotify(cfg.Notify),
			Limits:        cfg.Limits,
			Rules:         cfg.Rules,
			FollowUp:      cfg.FollowUp,
			// Local runs sweep often, so an escalation shows up while someone watches.
			SweepInterval: 5 * time.Second,
		})
		if err != nil {
			return err
		}
		lis := listeners[spec.Name]
		delete(listeners, spec.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := node.Serve(ctx, lis); err != nil {
				errs <- fmt.Errorf("%s: %w", spec.Name, err)
			}
		}()
		upstreams = append(upstreams, gateway.Upstream{
			Name: spec.Name, Target: lis.Addr().String(), Register: spec.RegisterGateway,
			DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
		})
	}

	gw, err := gateway.New(ctx, gateway.Options{
		Upstreams: upstreams, Logger: cfg.Logger, Telemetry: cfg.Telemetry, OpenAPI: openapi.Document(),
		AllowedOrigins:  []string{"http://localhost:5173", "http://127.0.0.1:5173"},
		RouteBodyLimits: GatewayBodyLimits(photos.MaxBytes),
		Limits:          cfg.Limits,
	})
	if err != nil {
		cancel()
		return fmt.Errorf("gateway: %w", err)
	}
	defer gw.Close()
	httpAddr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.port(cfg.HTTPPort)))
	hl, err := net.Listen("tcp", httpAddr)
	if err != nil {
		cancel()
		return fmt.Errorf("gateway: listen on %s: %w", httpAddr, err)
	}
	dev.GatewayURL = "http://" + hl.Addr().String()
	// The same timeouts and connection cap as `serve gateway`'s defaults.
	httpCfg := gateway.DefaultServerConfig()
	hl = httpCfg.Limit(hl)
	hs := httpCfg.Server(gw.Handler())
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := hs.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("gateway: %w", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = hs.Shutdown(sctx)
	}()

	if cfg.Telemetry != nil && cfg.Telemetry.MetricsHandler != nil && (cfg.MetricsPort != 0 || cfg.EphemeralPorts) {
		// Shifted like the services' ports, so that suites side by side do not collide.
		maddr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.port(cfg.MetricsPort+cfg.PortOffset)))
		ml, err := net.Listen("tcp", maddr)
		if err != nil {
			cancel()
			return fmt.Errorf("metrics: listen on %s: %w", maddr, err)
		}
		dev.MetricsURL = "http://" + ml.Addr().String() + "/metrics"
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cfg.Telemetry.ServeMetrics(ctx, ml, cfg.Logger); err != nil {
				errs <- fmt.Errorf("metrics: %w", err)
			}
		}()
	}

	teaStudio, err := prepare(ctx, cfg, dev)
	if err != nil {
		cancel()
		return err
	}
	for _, p := range DevPrincipals(teaStudio) {
		tok, err := signer.Token(p, cfg.TokenTTL)
		if err != nil {
			cancel()
			return err
		}
		dev.Tokens[p.Roles[0]] = tok
	}
	if err := writeTokens(filepath.Join(cfg.DataDir, "tokens.env"), dev.Tokens); err != nil {
		cancel()
		return err
	}
	printBanner(cfg.Out, cfg.DataDir, dev)
	if cfg.Ready != nil {
		cfg.Ready(dev)
	}

	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		cancel()
		return err
	}
}

// devNotify is n for a development suite: an http webhook on this machine is accepted.
func devNotify(n Notify) Notify {
	n.AllowLoopbackHTTP = true
	return n
}

// prepare seeds the demo data when asked and returns the tea studio's name for the partner
// token (empty when there is no such group).
func prepare(ctx context.Context, cfg DevConfig, dev *Dev) (string, error) {
	conn, err := grpc.NewClient(dev.ServiceAddr["partner"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	tok, err := dev.Signer.Token(auth.Principal{Subject: "dev-seed", Roles: []auth.Role{auth.RoleAdmin}, Scope: []string{cfg.Tree.Root().Code}}, 5*time.Minute)
	if err != nil {
		return "", err
	}
	actx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), time.Minute)
	defer cancel()
	client := partnerv1.NewPartnerServiceClient(conn)
	if cfg.Seed {
		if err := demo.Seed(actx, client); err != nil {
			return "", err
		}
	}
	names, err := demo.PartnerNames(actx, client)
	if err != nil {
		return "", fmt.Errorf("look up the demo partners: %w", err)
	}
	if cfg.Seed {
		if err := seedDemand(actx, dev, names); err != nil {
			return "", err
		}
	}
	return names["tea"], nil
}

// seedDemand tells the demand-side stories, each as the banner's principal of the right role.
func seedDemand(ctx context.Context, dev *Dev, partners map[string]string) error {
	cast, err := demo.CastOf(DevPrincipals(""))
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(dev.ServiceAddr["demand"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	return demo.SeedDemand(ctx, demandv1.NewDemandServiceClient(conn), dev.Signer, cast, partners)
}

func writeTokens(path string, tokens map[auth.Role]string) error {
	var b strings.Builder
	b.WriteString("# Dev tokens for `jiayuan dev`, one per role. Source this file: . " + path + "\n")
	for _, role := range sortedRoles(tokens) {
		fmt.Fprintf(&b, "export TOKEN_%s=%s\n", strings.ToUpper(string(role)), tokens[role])
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func sortedRoles(tokens map[auth.Role]string) []auth.Role {
	var roles []auth.Role
	for _, r := range auth.Roles() {
		if _, ok := tokens[r]; ok {
			roles = append(roles, r)
		}
	}
	return slices.Clip(roles)
}

func printBanner(w io.Writer, dataDir string, dev *Dev) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, "\njiayuan dev is running (data in %s)\n\n", dataDir)
	fmt.Fprintf(w, "  REST gateway   %s   (OpenAPI: %s/openapi.json, health: %s/healthz)\n", dev.GatewayURL, dev.GatewayURL, dev.GatewayURL)
	for _, spec := range Services() {
		fmt.Fprintf(w, "  %-14s %s   (gRPC, reflection on for callers with a token)\n", spec.Name, dev.ServiceAddr[spec.Name])
	}
	if dev.MetricsURL != "" {
		fmt.Fprintf(w, "  %-14s %s   (Prometheus: every service and the gateway)\n", "metrics", dev.MetricsURL)
	}
	fmt.Fprintf(w, "\nDev tokens (also in %s):\n", filepath.Join(dataDir, "tokens.env"))
	for _, role := range sortedRoles(dev.Tokens) {
		fmt.Fprintf(w, "  %-17s %s\n", role, dev.Tokens[role])
	}
	fmt.Fprintln(w, "\nPress Ctrl-C to stop; data stays for the next run.")
}
