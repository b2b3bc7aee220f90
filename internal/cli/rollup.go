package cli

import (
	"context"
	"fmt"
	"math"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/telemetry"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// The city rollup is its own command, not `serve reporting` with a switch: it has none of a
// district's settings (no database, no region tree, no feeds) and one of its own (the
// districts, each with its own token), so its help lists only what it reads, and the deploy
// checks, which hold a manifest to the command's flag set, know what it requires.

// rollupValues are the settings of `jiayuan serve reporting-rollup`.
type rollupValues struct {
	log                    logging
	verifier               auth.VerifierConfig
	listen, file, healthAt *string
	drain, stopAfter       *time.Duration
	maxRecv, maxStreams    *int
	tlsCert, tlsKey        *string
	tlsCA, tlsNames        *string
	peerCA, peerCert       *string
	peerKey                *string
	reflection             *bool
	limits                 limits.Config
	metricsAt              *string
}

// rollupFlags declares the settings of `jiayuan serve reporting-rollup` and describes them.
func rollupFlags(io IO) (*rollupValues, *Settings) {
	fs := newFlagSet("jiayuan serve "+reporting.RollupName, io)
	s := newSettings(fs, "serve", reporting.RollupName)
	s.Service, s.Telemetry = reporting.RollupName, true
	f := &rollupValues{
		listen: fs.String("grpc-listen", ":9090", "gRPC listen address"),
		file: fs.String(flagRollupConfig, "", "the city and its districts (YAML: city, name, deadline, and per district its code, name, reporting\n"+
			"address and token file; docs/deploy.md, \"The city rollup\"), mounted from a ConfigMap"),
		drain:     fs.Duration("drain-delay", server.DefaultDrainDelay, "after SIGTERM, keep serving (health NOT_SERVING) this long before stopping"),
		stopAfter: fs.Duration("shutdown-timeout", server.DefaultShutdownTimeout, "bound on the graceful stop after the drain"),
		maxRecv:   fs.Int("max-recv-bytes", server.DefaultMaxRecvMsgSize, "largest request message accepted"),
		maxStreams: fs.Int("max-concurrent-streams", server.DefaultMaxConcurrentStreams,
			"most calls and streams in flight on one connection (HTTP/2 MAX_CONCURRENT_STREAMS); a client opening more waits"),
		tlsCert:  fs.String("tls-cert", "", "TLS certificate file (PEM); plaintext when empty"),
		tlsKey:   fs.String("tls-key", "", "TLS private key file (PEM)"),
		tlsCA:    fs.String("tls-client-ca", "", "CA file (PEM) for client certificates: mutual TLS when set"),
		tlsNames: fs.String("tls-client-names", "", "comma-separated DNS names: with mutual TLS, only a client certificate naming one of them gets in"),
		healthAt: fs.String("health-listen", "", "also answer gRPC health checks here, in plaintext and without credentials (for probes under TLS), e.g. :9091"),
		peerCA: fs.String("peer-tls-ca", "", "CA file (PEM) to verify the districts' reporting services' certificates; a district the configuration\n"+
			"marks plaintext: true is called without TLS"),
		peerCert:   fs.String("peer-tls-cert", "", "client certificate (PEM) for mutual TLS to the districts"),
		peerKey:    fs.String("peer-tls-key", "", "client key (PEM) for mutual TLS to the districts"),
		reflection: fs.Bool("reflection", false, "serve gRPC server reflection to callers with a valid token"),
	}
	f.log.register(fs, "json")
	f.log.describe(s)
	f.verifier.RegisterFlags(fs)
	f.limits = limits.DefaultConfig()
	f.limits.RegisterFlags(fs)
	s.require(flagRollupConfig)
	s.require(auth.FlagIssuer)
	s.require(auth.FlagAudience)
	s.require(auth.FlagJWKSURL, auth.FlagPublicKeyFile)
	s.files(flagRollupConfig, "tls-cert", "tls-key", "tls-client-ca", "peer-tls-ca", "peer-tls-cert", "peer-tls-key", auth.FlagPublicKeyFile)
	s.hostPorts("grpc-listen", "health-listen")
	f.metricsAt = metricsFlag(fs, s)
	return f, s
}

// flagRollupConfig names the rollup's configuration file.
const flagRollupConfig = "rollup-config"

// check reports every invalid setting after Parse.
func (f *rollupValues) check() error {
	var p config.Problems
	f.log.check(&p)
	p.Check("grpc-listen", config.HostPort(*f.listen))
	p.Check(flagRollupConfig, config.Required(*f.file))
	if (*f.tlsCert == "") != (*f.tlsKey == "") {
		p.Addf("tls-cert", "set both --tls-cert and --tls-key, or neither")
	}
	if *f.tlsCA != "" && *f.tlsCert == "" {
		p.Addf("tls-client-ca", "mutual TLS needs --tls-cert and --tls-key too")
	}
	if *f.tlsNames != "" && *f.tlsCA == "" {
		p.Addf("tls-client-names", "needs --tls-client-ca (mutual TLS)")
	}
	if (*f.peerCert == "") != (*f.peerKey == "") {
		p.Addf("peer-tls-cert", "set both --peer-tls-cert and --peer-tls-key, or neither")
	}
	if *f.peerCert != "" && *f.peerCA == "" {
		p.Addf("peer-tls-ca", "mutual TLS to the districts needs --peer-tls-ca too")
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
	checkMetrics(&p, *f.metricsAt)
	return p.Err()
}

func runRollup(ctx context.Context, args []string, io IO) error {
	f, settings := rollupFlags(io)
	if err := settings.Flags.Parse(args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	file, err := reporting.LoadRollup(*f.file)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting(flagRollupConfig), err)
	}
	logger := f.log.logger(io.Err)
	providers, shutdown, err := telemetry.Setup(ctx, "jiayuan-"+reporting.RollupName, telemetryOptions(*f.metricsAt)...)
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
	conns, closeConns, err := f.dialDistricts(ctx, file, &providers)
	if err != nil {
		return err
	}
	defer closeConns()
	node, err := suite.OpenRollupNode(suite.RollupNodeConfig{File: file, Conns: conns, Verifier: v, Logger: logger, Telemetry: &providers,
		ServerOptions: opts, Limits: &f.limits})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *f.listen)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting("grpc-listen"), err)
	}
	stopMetrics, err := serveMetrics(ctx, *f.metricsAt, providers, logger)
	if err != nil {
		_ = lis.Close()
		return err
	}
	defer stopMetrics()
	logger.Info("serving", "service", reporting.RollupName, "addr", lis.Addr().String(), "city", file.City, "districts", len(file.Districts))
	return node.Serve(ctx, lis)
}

// dialDistricts connects to every district's reporting service with the rollup's token for
// that district, over TLS unless the configuration marks the district plaintext. Each token
// file is read once here, so a missing or empty one stops the start naming the district.
func (f *rollupValues) dialDistricts(ctx context.Context, file *reporting.RollupFile, tel *telemetry.Providers) (map[string]grpc.ClientConnInterface, func(), error) {
	var opened []*grpc.ClientConn
	closeAll := func() {
		for _, c := range opened {
			_ = c.Close()
		}
	}
	var tc credentials.TransportCredentials
	if *f.peerCA != "" {
		var err error
		if tc, err = server.ClientCredentials(*f.peerCA, *f.peerCert, *f.peerKey); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", config.Setting("peer-tls-ca"), err)
		}
	}
	conns := map[string]grpc.ClientConnInterface{}
	for i, d := range file.Districts {
		where := fmt.Sprintf("%s: districts[%d] (%s %s)", config.Setting(flagRollupConfig), i, d.Code, d.Name)
		token := auth.TokenFile(d.TokenFile)
		if _, err := token(ctx); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("%s: token_file: %w", where, err)
		}
		transport := tc
		if d.Plaintext {
			transport = insecure.NewCredentials()
		} else if transport == nil {
			closeAll()
			return nil, nil, fmt.Errorf("%s: called over TLS, which needs %s (or plaintext: true where network policies confine the traffic)",
				where, config.Setting("peer-tls-ca"))
		}
		conn, err := suite.DialPeer(d.Address, tel, grpc.WithTransportCredentials(transport),
			grpc.WithPerRPCCredentials(auth.NewBearerCredentials(token, d.Plaintext)))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		opened = append(opened, conn)
		conns[d.Code] = conn
	}
	return conns, closeAll, nil
}
