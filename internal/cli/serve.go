package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jiayuan/jiayuan/gateway"
	"github.com/jiayuan/jiayuan/gateway/openapi"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

func runServe(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("name the service to serve: %s, or gateway", strings.Join(suite.Names(), ", "))
	}
	if args[0] == "gateway" {
		return runGateway(ctx, args[1:], io)
	}
	spec, ok := suite.Lookup(args[0])
	if !ok {
		return fmt.Errorf("unknown service %q: one of %s, or gateway", args[0], strings.Join(suite.Names(), ", "))
	}
	fs := newFlagSet("jiayuan serve "+spec.Name, io)
	var (
		log       logging
		verifier  auth.VerifierConfig
		listen    = fs.String("grpc-listen", ":9090", "gRPC listen address")
		dbURL     = fs.String("db-url", "", "the service's database: postgres://… or sqlite:PATH")
		regions   = fs.String("regions", "", `region tree YAML file ("demo" for the Jiangnan demo tree)`)
		drain     = fs.Duration("drain-delay", server.DefaultDrainDelay, "after SIGTERM, keep serving (health NOT_SERVING) this long before stopping")
		stopAfter = fs.Duration("shutdown-timeout", server.DefaultShutdownTimeout, "bound on the graceful stop after the drain")
		maxRecv   = fs.Int("max-recv-bytes", server.DefaultMaxRecvMsgSize, "largest request message accepted")
		tlsCert   = fs.String("tls-cert", "", "TLS certificate file (PEM); plaintext when empty")
		tlsKey    = fs.String("tls-key", "", "TLS private key file (PEM)")
		tlsCA     = fs.String("tls-client-ca", "", "CA file (PEM) for client certificates: mutual TLS when set")
		healthAt  = fs.String("health-listen", "", "also answer gRPC health checks here, in plaintext and without credentials (for probes under mutual TLS), e.g. :9091")
		peers     peerFlags
	)
	log.register(fs, "json")
	verifier.RegisterFlags(fs)
	peers.register(fs, spec)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var p config.Problems
	log.check(&p)
	p.Check("grpc-listen", config.HostPort(*listen))
	p.Check("db-url", config.Required(*dbURL))
	p.Check("regions", config.Required(*regions))
	if (*tlsCert == "") != (*tlsKey == "") {
		p.Addf("tls-cert", "set both --tls-cert and --tls-key, or neither")
	}
	if *tlsCA != "" && *tlsCert == "" {
		p.Addf("tls-client-ca", "mutual TLS needs --tls-cert and --tls-key too")
	}
	if *maxRecv <= 0 {
		p.Addf("max-recv-bytes", "must be positive")
	}
	if *healthAt != "" {
		p.Check("health-listen", config.HostPort(*healthAt))
	}
	if err := verifier.Validate(); err != nil {
		p.Check(auth.FlagIssuer, err)
	}
	peers.check(&p)
	if err := p.Err(); err != nil {
		return err
	}
	tree, err := loadTree(*regions)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting("regions"), err)
	}
	logger := log.logger(io.Err)
	providers, shutdown, err := telemetry.Setup(ctx, "jiayuan-"+spec.Name)
	if err != nil {
		return err
	}
	defer flush(shutdown)
	v, err := auth.NewVerifier(ctx, verifier, auth.WithLogger(logger))
	if err != nil {
		return err
	}
	opts := server.Options{DrainDelay: *drain, ShutdownTimeout: *stopAfter, MaxRecvMsgSize: *maxRecv}
	if *tlsCert != "" {
		opts.TLS = &server.TLSConfig{CertFile: *tlsCert, KeyFile: *tlsKey, ClientCAFile: *tlsCA}
	}
	if *healthAt != "" {
		hl, err := net.Listen("tcp", *healthAt)
		if err != nil {
			return fmt.Errorf("%s: %w", config.Setting("health-listen"), err)
		}
		opts.HealthListener = hl
	}
	conns, closePeers, err := peers.dial(ctx, &providers)
	if err != nil {
		return err
	}
	// After the node: its handlers and background work use the connections until it stops.
	defer closePeers()
	node, err := suite.OpenNode(ctx, spec, suite.NodeConfig{
		DatabaseURL: *dbURL, Tree: tree, Verifier: v, Logger: logger, Telemetry: &providers, ServerOptions: opts,
		Peers: conns,
	})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting("grpc-listen"), err)
	}
	logger.Info("serving", "service", spec.Name, "addr", lis.Addr().String())
	return node.Serve(ctx, lis)
}

func flush(shutdown func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = shutdown(ctx)
}

func runGateway(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("jiayuan serve gateway", io)
	var (
		log      logging
		listen   = fs.String("http-listen", ":8080", "HTTP listen address")
		origins  = fs.String("cors-origins", "", "comma-separated origins allowed to call the API from a browser")
		maxBody  = fs.Int64("max-body-bytes", 1<<20, "largest request body accepted (413 above)")
		httpCfg  = gateway.DefaultServerConfig()
		upCA     = fs.String("upstream-ca", "", "CA file (PEM) to verify the services' TLS certificates; plaintext when empty")
		upCert   = fs.String("upstream-cert", "", "client certificate (PEM) for mutual TLS to the services")
		upKey    = fs.String("upstream-key", "", "client key (PEM) for mutual TLS to the services")
		drain    = fs.Duration("drain-delay", server.DefaultDrainDelay, "after SIGTERM, keep serving (/readyz 503) this long before stopping")
		stopIn   = fs.Duration("shutdown-timeout", server.DefaultShutdownTimeout, "bound on the graceful stop after the drain")
		addrs    = map[string]*string{}
		services = suite.Services()
	)
	for _, spec := range services {
		addrs[spec.Name] = fs.String(spec.Name+"-addr", "", "the "+spec.Name+" service's gRPC address (host:port)")
	}
	httpCfg.RegisterFlags(fs)
	log.register(fs, "json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var p config.Problems
	log.check(&p)
	httpCfg.Check(&p)
	p.Check("http-listen", config.HostPort(*listen))
	for _, spec := range services {
		p.Check(spec.Name+"-addr", config.HostPort(*addrs[spec.Name]))
	}
	if *maxBody <= 0 {
		p.Addf("max-body-bytes", "must be positive")
	}
	if *drain < 0 || *stopIn <= 0 {
		p.Addf("drain-delay", "--drain-delay must not be negative and --shutdown-timeout must be positive")
	}
	if (*upCert == "") != (*upKey == "") {
		p.Addf("upstream-cert", "set both --upstream-cert and --upstream-key, or neither")
	}
	if err := p.Err(); err != nil {
		return err
	}
	transport := insecure.NewCredentials()
	if *upCA != "" {
		tc, err := server.ClientTLS(*upCA, *upCert, *upKey)
		if err != nil {
			return fmt.Errorf("%s: %w", config.Setting("upstream-ca"), err)
		}
		transport = credentials.NewTLS(tc)
	}
	logger := log.logger(io.Err)
	providers, shutdown, err := telemetry.Setup(ctx, "jiayuan-gateway")
	if err != nil {
		return err
	}
	defer flush(shutdown)
	var upstreams []gateway.Upstream
	for _, spec := range services {
		upstreams = append(upstreams, gateway.Upstream{Name: spec.Name, Target: *addrs[spec.Name], Register: spec.RegisterGateway,
			DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(transport)}})
	}
	var allowed []string
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			allowed = append(allowed, o)
		}
	}
	gw, err := gateway.New(ctx, gateway.Options{Upstreams: upstreams, AllowedOrigins: allowed, MaxBodyBytes: *maxBody,
		OpenAPI: openapi.Document(), Logger: logger, Telemetry: &providers})
	if err != nil {
		return err
	}
	defer gw.Close()
	lis, err := httpCfg.Listen(*listen)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting("http-listen"), err)
	}
	hs := httpCfg.Server(gw.Handler())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		// The same stop as the services': unready, keep serving while load balancers notice,
		// then finish the requests in flight.
		gw.Drain()
		logger.Info("draining", "service", "gateway", "drain_delay", *drain)
		time.Sleep(*drain)
		sctx, cancel := context.WithTimeout(context.Background(), *stopIn)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	logger.Info("serving", "service", "gateway", "addr", *listen)
	if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// ListenAndServe returns as the shutdown begins; the requests in flight still need the
	// upstream connections that the deferred Close ends.
	<-stopped
	return nil
}
