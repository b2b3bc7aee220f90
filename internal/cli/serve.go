package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jiayuan/jiayuan/gateway"
	"github.com/jiayuan/jiayuan/gateway/openapi"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/photo"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/telemetry"
	"github.com/jiayuan/jiayuan/services/reporting"
)

func runServe(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("name the service to serve: %s, or gateway, or %s (the city's)", strings.Join(suite.Names(), ", "), reporting.RollupName)
	}
	if args[0] == "gateway" {
		return runGateway(ctx, args[1:], io)
	}
	if args[0] == reporting.RollupName {
		return runRollup(ctx, args[1:], io)
	}
	spec, ok := suite.Lookup(args[0])
	if !ok {
		return fmt.Errorf("unknown service %q: one of %s, or gateway, or %s (the city's)", args[0], strings.Join(suite.Names(), ", "), reporting.RollupName)
	}
	f, settings := serveFlags(spec, io)
	if err := settings.Flags.Parse(args[1:]); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	tree, err := loadTree(*f.regions)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting("regions"), err)
	}
	logger := f.log.logger(io.Err)
	providers, shutdown, err := telemetry.Setup(ctx, "jiayuan-"+spec.Name, telemetryOptions(*f.metricsAt)...)
	if err != nil {
		return err
	}
	defer flush(shutdown)
	v, err := auth.NewVerifier(ctx, f.verifier, auth.WithLogger(logger))
	if err != nil {
		return err
	}
	opts := server.Options{DrainDelay: *f.drain, ShutdownTimeout: *f.stopAfter, MaxRecvMsgSize: *f.maxRecv, Reflection: *f.reflection,
		MaxConcurrentStreams: uint32(*f.maxStreams)}
	if *f.tlsCert != "" {
		opts.TLS = &server.TLSConfig{CertFile: *f.tlsCert, KeyFile: *f.tlsKey, ClientCAFile: *f.tlsCA, ClientNames: clientNames(*f.tlsNames)}
	}
	if *f.healthAt != "" {
		hl, err := net.Listen("tcp", *f.healthAt)
		if err != nil {
			return fmt.Errorf("%s: %w", config.Setting("health-listen"), err)
		}
		opts.HealthListener = hl
	}
	var keys *personal.Keys
	if f.keys != nil {
		if keys, err = loadKeys(*f.keys); err != nil {
			return err
		}
	}
	var photos *suite.Photos
	if f.photos != nil {
		if photos, err = f.photos.open(ctx); err != nil {
			return err
		}
	}
	var notify suite.Notify
	if f.notify != nil {
		if notify, err = f.notify.load(); err != nil {
			return err
		}
	}
	conns, closePeers, err := f.peers.dial(ctx, &providers)
	if err != nil {
		return err
	}
	// After the node: its handlers and background work use the connections until it stops.
	defer closePeers()
	cfg := suite.NodeConfig{
		DatabaseURL: *f.dbURL, Tree: tree, Verifier: v, Logger: logger, Telemetry: &providers, ServerOptions: opts,
		PoolSize: *f.poolSize, Peers: conns, Keys: keys, Photos: photos, Notify: notify, AuditLogOnly: !*f.auditRecords, Limits: &f.limits,
	}
	if f.rules != nil {
		// Read here, so that a bad file stops the start naming the setting.
		r, err := suite.LoadRules(*f.rules)
		if err != nil {
			return fmt.Errorf("%s: %w", config.Setting("rules"), err)
		}
		if r.District() != tree.Root().Code {
			return fmt.Errorf("%s: the rules are for district %s, the region tree for %s", config.Setting("rules"), r.District(), tree.Root().Code)
		}
		cfg.Rules = *f.rules
	}
	if f.sweepEvery != nil {
		cfg.SweepInterval = *f.sweepEvery
	}
	if f.followUp != nil {
		cfg.FollowUp = f.followUp.settings()
	}
	node, err := suite.OpenNode(ctx, spec, cfg)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *f.listen)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting("grpc-listen"), err)
	}
	// Once the node is built, so that a start that fails earlier does not need the port.
	stopMetrics, err := serveMetrics(ctx, *f.metricsAt, providers, logger)
	if err != nil {
		_ = lis.Close()
		return err
	}
	// Before the telemetry's flush (deferred earlier, run later).
	defer stopMetrics()
	logger.Info("serving", "service", spec.Name, "addr", lis.Addr().String())
	return node.Serve(ctx, lis)
}

// serveValues are the settings of `jiayuan serve <service>`.
type serveValues struct {
	log                    logging
	verifier               auth.VerifierConfig
	listen, dbURL, regions *string
	drain, stopAfter       *time.Duration
	maxRecv, maxStreams    *int
	// poolSize is each PostgreSQL pool's size (--db-pool-size); 0 derives it from GOMAXPROCS.
	poolSize                         *int
	tlsCert, tlsKey, tlsCA, healthAt *string
	// tlsNames are the callers a client certificate must name (--tls-client-names).
	tlsNames *string
	peers    *peerFlags
	// keys is the key ring file of a service storing personal data; nil for one that stores none.
	keys *string
	// photos are the photo settings of a service keeping photos; nil for one that keeps none.
	photos       *photoValues
	auditRecords *bool
	// notify is how a service that notifies residents reaches them; nil for one that does not.
	notify     *notifyFlags
	reflection *bool
	// limits are the rate limits and stream caps of every call (platform/limits).
	limits limits.Config
	// rules is the district's rules file of a service that reads it (Spec.Rules); nil otherwise.
	rules *string
	// sweepEvery is the sweep interval of a service with a sweeper (Spec.Sweeps); nil otherwise.
	sweepEvery *time.Duration
	// metricsAt is where the Prometheus metrics are served (--metrics-listen); empty: nowhere.
	metricsAt *string
	// followUp is the follow-up settings of a service that follows contracts up
	// (Spec.FollowUp); nil otherwise.
	followUp *followUpFlags
}

// serveFlags declares the settings of `jiayuan serve <spec>` and describes them.
func serveFlags(spec suite.Spec, io IO) (*serveValues, *Settings) {
	fs := newFlagSet("jiayuan serve "+spec.Name, io)
	s := newSettings(fs, "serve", spec.Name)
	s.Service, s.Telemetry, s.Database = spec.Name, true, true
	f := &serveValues{
		listen:    fs.String("grpc-listen", ":9090", "gRPC listen address"),
		dbURL:     fs.String("db-url", "", "the service's database: postgres://… or sqlite:PATH"),
		regions:   fs.String("regions", "", `region tree YAML file ("demo" for the Jiangnan demo tree)`),
		drain:     fs.Duration("drain-delay", server.DefaultDrainDelay, "after SIGTERM, keep serving (health NOT_SERVING) this long before stopping"),
		stopAfter: fs.Duration("shutdown-timeout", server.DefaultShutdownTimeout, "bound on the graceful stop after the drain"),
		poolSize: fs.Int("db-pool-size", 0, "most PostgreSQL connections in each of the service's two pools (writes, reads); 0: the larger of 4 and\n"+
			"GOMAXPROCS, which follows the container's CPU limit. The deploy checks budget replicas × 2 × this against max_connections"),
		maxRecv: fs.Int("max-recv-bytes", server.DefaultMaxRecvMsgSize, "largest request message accepted"),
		maxStreams: fs.Int("max-concurrent-streams", server.DefaultMaxConcurrentStreams,
			"most calls and streams in flight on one connection (HTTP/2 MAX_CONCURRENT_STREAMS); a client opening more waits"),
		tlsCert: fs.String("tls-cert", "", "TLS certificate file (PEM); plaintext when empty"),
		tlsKey:  fs.String("tls-key", "", "TLS private key file (PEM)"),
		tlsCA:   fs.String("tls-client-ca", "", "CA file (PEM) for client certificates: mutual TLS when set"),
		tlsNames: fs.String("tls-client-names", "", "comma-separated DNS names (e.g. gateway.jiayuan-jiangnan.svc): with mutual TLS, only a client\n"+
			"certificate naming one of them gets in; empty lets in any certificate from the client CA"),
		healthAt: fs.String("health-listen", "", "also answer gRPC health checks here, in plaintext and without credentials (for probes under mutual TLS), e.g. :9091"),
		peers:    &peerFlags{},
		reflection: fs.Bool("reflection", false, "serve gRPC server reflection (for grpcurl) to callers with a valid token; "+
			"it describes the whole API, so leave it off in production"),
		auditRecords: fs.Bool("audit-records", true, "write the audit trail as records in the service's database, in each write's transaction; "+
			"false writes audit log lines instead (only to measure the records' cost)"),
	}
	f.log.register(fs, "json")
	f.log.describe(s)
	f.verifier.RegisterFlags(fs)
	f.limits = limits.DefaultConfig()
	f.limits.RegisterFlags(fs)
	s.require("db-url")
	s.require("regions")
	s.require(auth.FlagIssuer)
	s.require(auth.FlagAudience)
	s.require(auth.FlagJWKSURL, auth.FlagPublicKeyFile)
	s.files("regions", "tls-cert", "tls-key", "tls-client-ca", auth.FlagPublicKeyFile)
	s.hostPorts("grpc-listen", "health-listen")
	f.metricsAt = metricsFlag(fs, s)
	f.peers.register(fs, spec, s)
	if spec.RotateKeys != nil {
		f.keys = keysFlag(fs, s)
	}
	if spec.Photos {
		f.photos = photoFlags(fs, s)
	}
	if spec.Notifies {
		f.notify = &notifyFlags{}
		f.notify.register(fs, s)
	}
	if spec.Rules {
		f.rules = fs.String("rules", "", `the district's operating rules YAML file (rules.yaml: three-colour list, time limits, escalation, departments, calendar), or "demo"`)
		s.require("rules")
		s.files("rules")
	}
	if spec.Sweeps {
		f.sweepEvery = fs.Duration("sweep-interval", 30*time.Second, "how often each replica sweeps for cases past their warning or escalation time (the work is shared out, never done twice)")
	}
	if spec.FollowUp {
		f.followUp = &followUpFlags{}
		f.followUp.register(fs)
	}
	return f, s
}

// keysFlag declares --personal-data-keys, required: the key ring sealing the personal data a
// service stores.
func keysFlag(fs *config.FlagSet, s *Settings) *string {
	keys := fs.String(flagKeys, "", `personal data key ring file (JSON: {"current": ID, "keys": {ID: base64 of 32 bytes}}); a Kubernetes Secret mounted as a file`)
	s.require(flagKeys)
	s.files(flagKeys)
	return keys
}

// flagKeys names the key ring file of personal data at rest.
const flagKeys = "personal-data-keys"

// loadKeys reads the key ring --personal-data-keys names, an error naming the setting.
func loadKeys(path string) (*personal.Keys, error) {
	k, err := personal.LoadKeys(path)
	if err != nil {
		return nil, &config.SettingError{Flag: flagKeys, Err: err}
	}
	return k, nil
}

// check reports every invalid setting after Parse.
func (f *serveValues) check() error {
	var p config.Problems
	f.log.check(&p)
	p.Check("grpc-listen", config.HostPort(*f.listen))
	p.Check("db-url", config.Required(*f.dbURL))
	p.Check("regions", config.Required(*f.regions))
	if *f.poolSize < 0 {
		p.Addf("db-pool-size", "must not be negative")
	}
	// One place sets the pool size, the one the deploy checks read: a pool_max_conns in the
	// URL (often in a Secret, out of the checks' sight) would be overridden silently.
	if strings.Contains(*f.dbURL, "pool_max_conns=") {
		p.Addf("db-url", "holds pool_max_conns: set --db-pool-size instead")
	}
	if (*f.tlsCert == "") != (*f.tlsKey == "") {
		p.Addf("tls-cert", "set both --tls-cert and --tls-key, or neither")
	}
	if *f.tlsCA != "" && *f.tlsCert == "" {
		p.Addf("tls-client-ca", "mutual TLS needs --tls-cert and --tls-key too")
	}
	if *f.tlsNames != "" && *f.tlsCA == "" {
		p.Addf("tls-client-names", "needs --tls-client-ca (mutual TLS)")
	}
	if *f.maxRecv <= 0 {
		p.Addf("max-recv-bytes", "must be positive")
	}
	if *f.maxStreams <= 0 || int64(*f.maxStreams) > math.MaxUint32 {
		p.Addf("max-concurrent-streams", "must be positive")
	}
	f.limits.Check(&p)
	if *f.healthAt != "" {
		p.Check("health-listen", config.HostPort(*f.healthAt))
	}
	if err := f.verifier.Validate(); err != nil {
		p.Check(auth.FlagIssuer, err)
	}
	f.peers.check(&p)
	if f.keys != nil {
		p.Check(flagKeys, config.Required(*f.keys))
	}
	if f.photos != nil {
		f.photos.check(&p)
	}
	if f.notify != nil {
		f.notify.check(&p)
	}
	if f.rules != nil {
		p.Check("rules", config.Required(*f.rules))
	}
	if f.sweepEvery != nil && *f.sweepEvery < time.Second {
		p.Addf("sweep-interval", "must be at least 1s")
	}
	if f.followUp != nil {
		f.followUp.check(&p)
	}
	checkMetrics(&p, *f.metricsAt)
	return p.Err()
}

// clientNames splits --tls-client-names.
func clientNames(list string) []string {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func flush(shutdown func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = shutdown(ctx)
}

func runGateway(ctx context.Context, args []string, io IO) error {
	f, settings := gatewayFlags(io)
	if err := settings.Flags.Parse(args); err != nil {
		return err
	}
	services := suite.Services()
	var p config.Problems
	f.log.check(&p)
	f.http.Check(&p)
	f.limits.CheckEdge(&p)
	p.Check("http-listen", config.HostPort(*f.listen))
	for _, spec := range services {
		p.Check(spec.Name+"-addr", config.HostPort(*f.addrs[spec.Name]))
	}
	if *f.maxBody <= 0 {
		p.Addf("max-body-bytes", "must be positive")
	}
	checkPhotoMax(&p, *f.photoMax)
	if *f.drain < 0 || *f.stopIn <= 0 {
		p.Addf("drain-delay", "--drain-delay must not be negative and --shutdown-timeout must be positive")
	}
	if (*f.upCert == "") != (*f.upKey == "") {
		p.Addf("upstream-cert", "set both --upstream-cert and --upstream-key, or neither")
	}
	checkMetrics(&p, *f.metricsAt)
	if err := p.Err(); err != nil {
		return err
	}
	transport := insecure.NewCredentials()
	if *f.upCA != "" {
		tc, err := server.ClientCredentials(*f.upCA, *f.upCert, *f.upKey)
		if err != nil {
			return fmt.Errorf("%s: %w", config.Setting("upstream-ca"), err)
		}
		transport = tc
	}
	logger := f.log.logger(io.Err)
	providers, shutdown, err := telemetry.Setup(ctx, "jiayuan-gateway", telemetryOptions(*f.metricsAt)...)
	if err != nil {
		return err
	}
	defer flush(shutdown)
	var upstreams []gateway.Upstream
	for _, spec := range services {
		upstreams = append(upstreams, gateway.Upstream{Name: spec.Name, Target: *f.addrs[spec.Name], Register: spec.RegisterGateway,
			DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(transport)}})
	}
	var allowed []string
	for _, o := range strings.Split(*f.origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			allowed = append(allowed, o)
		}
	}
	gw, err := gateway.New(ctx, gateway.Options{Upstreams: upstreams, AllowedOrigins: allowed, MaxBodyBytes: *f.maxBody,
		RouteBodyLimits: suite.GatewayBodyLimits(*f.photoMax), OpenAPI: openapi.Document(), Logger: logger, Telemetry: &providers, Limits: &f.limits})
	if err != nil {
		return err
	}
	defer gw.Close()
	lis, err := f.http.Listen(*f.listen)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting("http-listen"), err)
	}
	stopMetrics, err := serveMetrics(ctx, *f.metricsAt, providers, logger)
	if err != nil {
		_ = lis.Close()
		return err
	}
	defer stopMetrics()
	hs := f.http.Server(gw.Handler())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		// The same stop as the services': unready, keep serving while load balancers notice,
		// then finish the requests in flight.
		gw.Drain()
		logger.Info("draining", "service", "gateway", "drain_delay", *f.drain)
		time.Sleep(*f.drain)
		sctx, cancel := context.WithTimeout(context.Background(), *f.stopIn)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	logger.Info("serving", "service", "gateway", "addr", *f.listen)
	if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// ListenAndServe returns as the shutdown begins; the requests in flight still need the
	// upstream connections that the deferred Close ends.
	<-stopped
	return nil
}

// gatewayValues are the settings of `jiayuan serve gateway`.
type gatewayValues struct {
	log                                  logging
	listen, origins, upCA, upCert, upKey *string
	maxBody, photoMax                    *int64
	drain, stopIn                        *time.Duration
	// addrs holds each service's address, by name.
	addrs map[string]*string
	// http is the REST server's timeouts and connection cap.
	http gateway.ServerConfig
	// limits are the gateway's own limits: anonymous requests and failed authentications per
	// client address, and the trusted proxies.
	limits limits.Config
	// metricsAt is where the Prometheus metrics are served (--metrics-listen); empty: nowhere.
	metricsAt *string
}

// gatewayFlags declares the settings of `jiayuan serve gateway` and describes them: an
// address for every service of the suite.
func gatewayFlags(io IO) (*gatewayValues, *Settings) {
	fs := newFlagSet("jiayuan serve gateway", io)
	s := newSettings(fs, "serve", "gateway")
	s.Telemetry = true
	f := &gatewayValues{
		listen:  fs.String("http-listen", ":8080", "HTTP listen address"),
		origins: fs.String("cors-origins", "", "comma-separated origins allowed to call the API from a browser"),
		maxBody: fs.Int64("max-body-bytes", 1<<20, "largest request body accepted (413 above)"),
		photoMax: fs.Int64(flagPhotoMax, photo.DefaultMaxBytes,
			"largest photo uploaded through /v1/demands/{demand}/photos:upload (413 above); the same as the demand service's"),
		upCA:   fs.String("upstream-ca", "", "CA file (PEM) to verify the services' TLS certificates; plaintext when empty"),
		upCert: fs.String("upstream-cert", "", "client certificate (PEM) for mutual TLS to the services"),
		upKey:  fs.String("upstream-key", "", "client key (PEM) for mutual TLS to the services"),
		drain:  fs.Duration("drain-delay", server.DefaultDrainDelay, "after SIGTERM, keep serving (/readyz 503) this long before stopping"),
		stopIn: fs.Duration("shutdown-timeout", server.DefaultShutdownTimeout, "bound on the graceful stop after the drain"),
		addrs:  map[string]*string{},
		http:   gateway.DefaultServerConfig(),
		limits: limits.DefaultConfig(),
	}
	f.http.RegisterFlags(fs)
	f.limits.RegisterEdgeFlags(fs)
	s.hostPorts("http-listen")
	f.metricsAt = metricsFlag(fs, s)
	for _, spec := range suite.Services() {
		f.addrs[spec.Name] = fs.String(spec.Name+"-addr", "", "the "+spec.Name+" service's gRPC address (host:port)")
		s.require(spec.Name + "-addr")
		s.hostPorts(spec.Name + "-addr")
	}
	f.log.register(fs, "json")
	f.log.describe(s)
	s.files("upstream-ca", "upstream-cert", "upstream-key")
	return f, s
}
