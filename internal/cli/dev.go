package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

func runDev(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("jiayuan dev", io)
	var (
		log      logging
		dataDir  = fs.String("data-dir", ".data", "directory for the SQLite databases, the dev signing key and tokens.env")
		host     = fs.String("host", "127.0.0.1", "interface to listen on")
		httpPort = fs.Int("http-port", 8080, "REST gateway port")
		offset   = fs.Int("port-offset", 0, "added to every service's gRPC port (partner 9101, …)")
		regions  = fs.String("regions", "demo", `region tree YAML file, or "demo" for the Jiangnan District demo tree`)
		rulesAt  = fs.String("rules", "demo", `the district's rules YAML file (rules.yaml), or "demo" for the Jiangnan District demo rules`)
		seed     = fs.Bool("seed", true, "load the demo data into an empty suite")
		ttl      = fs.Duration("token-ttl", 30*24*time.Hour, "validity of the printed dev tokens")
		metrics  = fs.Int("metrics-port", 9464, "Prometheus metrics port (GET /metrics) of every service and the gateway, shifted by --port-offset; 0: none")
	)
	notify := &notifyFlags{dev: true}
	notify.register(fs, nil)
	followUp := &followUpFlags{}
	followUp.register(fs)
	log.register(fs, "text")
	// The same limits as production, tunable the same way.
	lim := limits.DefaultConfig()
	lim.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var p config.Problems
	log.check(&p)
	lim.Check(&p)
	p.Check("data-dir", config.Required(*dataDir))
	if *ttl <= 0 {
		p.Addf("token-ttl", "must be positive")
	}
	if *metrics < 0 || *metrics > 65535 {
		p.Addf("metrics-port", "must be a port number, or 0 for none")
	}
	notify.check(&p)
	followUp.check(&p)
	if err := p.Err(); err != nil {
		return err
	}
	notifySettings, err := notify.load()
	if err != nil {
		return err
	}
	tree, err := loadTree(*regions)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting("regions"), err)
	}
	r, err := suite.LoadRules(*rulesAt)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Setting("rules"), err)
	}
	if r.District() != tree.Root().Code {
		return fmt.Errorf("%s: the rules are for district %s, the region tree (%s) for %s", config.Setting("rules"), r.District(), config.Setting("regions"), tree.Root().Code)
	}
	var topts []telemetry.Option
	if *metrics != 0 {
		topts = append(topts, telemetry.WithPrometheus())
	}
	providers, shutdown, err := telemetry.Setup(ctx, "jiayuan-dev", topts...)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(sctx)
	}()
	return suite.RunDev(ctx, suite.DevConfig{
		DataDir: *dataDir, Host: *host, HTTPPort: *httpPort, PortOffset: *offset, Tree: tree, Rules: *rulesAt,
		Logger: log.logger(io.Err), Telemetry: &providers, Seed: *seed, TokenTTL: *ttl, Out: io.Out, Notify: notifySettings, Limits: &lim,
		MetricsPort: *metrics, FollowUp: followUp.settings(),
	})
}
