// Package suite assembles jiayuan's services: the catalogue of services the binary can run,
// running one of them as Kubernetes does (`jiayuan serve <service>`), and running all of them
// with the gateway in one process (`jiayuan dev`).
package suite

import (
	"context"
	"crypto/x509"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	auditv1 "github.com/jiayuan/jiayuan/gen/jiayuan/audit/v1"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	regionv1 "github.com/jiayuan/jiayuan/gen/jiayuan/region/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/contract"
	contractmigrations "github.com/jiayuan/jiayuan/services/contract/migrations"
	"github.com/jiayuan/jiayuan/services/demand"
	demandmigrations "github.com/jiayuan/jiayuan/services/demand/migrations"
	"github.com/jiayuan/jiayuan/services/escalation"
	escalationmigrations "github.com/jiayuan/jiayuan/services/escalation/migrations"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
	"github.com/jiayuan/jiayuan/services/partner"
	partnermigrations "github.com/jiayuan/jiayuan/services/partner/migrations"
	"github.com/jiayuan/jiayuan/services/reporting"
	reportingmigrations "github.com/jiayuan/jiayuan/services/reporting/migrations"
)

// Registrar is a built service, ready to be registered on a gRPC server.
type Registrar interface {
	Register(grpc.ServiceRegistrar)
}

// Runner is a built service with background work (following another service's event feed,
// say): Node.Serve runs it alongside the gRPC server until the server stops.
type Runner interface {
	Run(ctx context.Context) error
}

// Env is what a service is built from.
type Env struct {
	DB     *sqlstore.DB
	Tree   *region.Tree
	Logger *slog.Logger
	// Peers holds a connection to each service named in Spec.Peers, carrying this service's
	// own credentials (a system principal), by name.
	Peers map[string]grpc.ClientConnInterface
	// Keys seal the personal data the service stores (Spec.RotateKeys set).
	Keys *personal.Keys
	// Photos keeps the photos attached to the service's records (Spec.Photos set).
	Photos *Photos
	// Notify is how the service's notifications reach residents (Spec.Notifies set).
	Notify Notify
	// Rules is the district's rules file (rules.yaml) for a service that reads it (Spec.Rules);
	// "demo" (or empty) for the Jiangnan demo rules.
	Rules string
	// SweepInterval is how often a service with a sweeper (Spec.Sweeps) sweeps; zero for its
	// default.
	SweepInterval time.Duration
	// FollowUp is the follow-up settings of a service that follows contracts up
	// (Spec.FollowUp); zero fields take the service's defaults.
	FollowUp FollowUp
}

// FollowUp is when the contract service's sweeper warns: a one-off duty due within
// DueSoonWorkdays working days, a partner of an active contract with nothing recorded for
// InactiveDays days (`--due-soon-workdays`, `--inactive-days`).
type FollowUp struct {
	DueSoonWorkdays, InactiveDays int
}

// Notify is how a service's notifications reach residents: the district's messaging gateway
// behind a signed webhook (docs/notifications.md), and when not to send.
type Notify struct {
	// WebhookURL is the gateway's webhook (https); empty: notifications are written to the
	// log, phone numbers masked, and recorded LOGGED.
	WebhookURL string
	// WebhookSecret is the secret shared with the gateway that signs every call.
	WebhookSecret []byte
	// WebhookRoots are the CAs the gateway's certificate chains to; nil: the system's roots.
	WebhookRoots *x509.CertPool
	// AllowLoopbackHTTP accepts an http webhook on a loopback address: `jiayuan dev` only.
	AllowLoopbackHTTP bool
	// QuietHours ("22:00-07:00", China Standard Time) holds messages that are not urgent.
	QuietHours string
	// MaxAttempts is how many tries a notification gets before it is recorded FAILED.
	MaxAttempts int
}

// Spec describes one service of the suite.
type Spec struct {
	Name string
	// DevPort is the service's gRPC port under `jiayuan dev`.
	DevPort int
	// Peers names the services this one calls. Under `jiayuan dev` every service listens
	// before any is built, so two services may call each other (demand and escalation follow
	// each other's feeds); connections are made on first use.
	Peers []string
	// Open migrates env.DB and builds the service.
	Open func(ctx context.Context, env Env) (Registrar, error)
	// Migrations is the service's schema (postgres/ and sqlite/ directories).
	Migrations func() fs.FS
	// Policies lists the roles allowed on each of the service's methods.
	Policies func() auth.Policies
	// RotateKeys re-seals every record's personal data under the current key (`jiayuan
	// rotate-keys`), progress called after each batch; set for a service that stores personal
	// data, which then needs a key ring to start.
	RotateKeys func(ctx context.Context, db *sqlstore.DB, keys *personal.Keys, progress func(sealed int, last string)) (int, error)
	// Photos: the service keeps photos attached to its records, and needs a photo store and a
	// key to sign links to them with (Env.Photos) to start.
	Photos bool
	// Notifies: the service sends residents notifications through the district's messaging
	// gateway; `serve` and `dev` take the --notify-* settings for it (Env.Notify).
	Notifies bool
	// RegisterGateway mounts the service's REST mapping on the gateway.
	RegisterGateway func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error
	// Rules: the service reads the district's rules file (`jiayuan serve --rules`).
	Rules bool
	// Sweeps: the service sweeps rows that fall due (platform/sweep; `--sweep-interval`).
	Sweeps bool
	// FollowUp: the service follows contracts up; `serve` and `dev` take its settings
	// (`--due-soon-workdays`, `--inactive-days`; Env.FollowUp).
	FollowUp bool
}

// Services is the catalogue of services, in start order.
func Services() []Spec {
	return []Spec{
		{
			Name:    partner.Name,
			DevPort: 9101,
			// An activity naming a contract is checked with the contract service.
			Peers: []string{contract.Name},
			Open: func(ctx context.Context, env Env) (Registrar, error) {
				return partner.Open(ctx, partner.Config{DB: env.DB, Tree: env.Tree, Keys: env.Keys, Logger: env.Logger,
					Contracts: env.Peers[contract.Name]})
			},
			RotateKeys: partner.RotateKeys,
			Migrations: partnermigrations.FS,
			Policies:   partner.Policies,
			// Every node serves the region tree (platform/assembly); /v1/regions goes to partner's,
			// the service with no peers, which starts first.
			RegisterGateway: gatewayRoutes(partnerv1.RegisterPartnerServiceHandler, regionv1.RegisterRegionServiceHandler, auditRoute(partner.Name)),
		},
		{
			Name:    demand.Name,
			DevPort: 9102,
			// Matching asks partner for candidates; partners' track records come from its feed.
			// Cases' replies and outcomes come from escalation's feed; projects follow their
			// contracts, and contract outcomes join track records, from contract's feed.
			Peers: []string{partner.Name, escalation.Name, contract.Name},
			Open: func(ctx context.Context, env Env) (Registrar, error) {
				p := env.Photos
				if p == nil {
					return nil, errors.New("demand: no photo store")
				}
				return demand.Open(ctx, demand.Config{DB: env.DB, Tree: env.Tree, Keys: env.Keys, Logger: env.Logger,
					Partners: env.Peers[partner.Name], Cases: env.Peers[escalation.Name], Contracts: env.Peers[contract.Name],
					Photos: demand.Photos{Store: p.Store, MaxBytes: p.MaxBytes, URLTTL: p.URLTTL, Signer: p.Signer},
					Notify: demand.NotifyConfig{
						WebhookURL: env.Notify.WebhookURL, WebhookSecret: env.Notify.WebhookSecret, WebhookRoots: env.Notify.WebhookRoots,
						AllowLoopbackHTTP: env.Notify.AllowLoopbackHTTP,
						QuietHours:        env.Notify.QuietHours, MaxAttempts: env.Notify.MaxAttempts,
					}})
			},
			RotateKeys: demand.RotateKeys,
			Migrations: demandmigrations.FS,
			Policies:   demand.Policies,
			Photos:     true,
			// Replies reach residents by SMS or WeChat through the district's gateway.
			Notifies: true,
			// The raw photo upload beside the generated routes (GatewayBodyLimits sizes its body).
			RegisterGateway: gatewayRoutes(demandv1.RegisterDemandServiceHandler, auditRoute(demand.Name), photoUploadRoute),
		},
		{
			Name:    escalation.Name,
			DevPort: 9103,
			// Its cases open from demand's feed, and CreateCase reads the demand there.
			Peers:  []string{demand.Name},
			Rules:  true,
			Sweeps: true,
			// Units hear of their cases through the district's messaging gateway, the one
			// residents' notifications go through (`serve escalation` and `dev` take the
			// --notify-* settings; the base carries its Secret, ConfigMap and egress).
			Notifies: true,
			Open: func(ctx context.Context, env Env) (Registrar, error) {
				r, err := LoadRules(env.Rules)
				if err != nil {
					return nil, err
				}
				return escalation.Open(ctx, escalation.Config{DB: env.DB, Tree: env.Tree, Rules: r, Logger: env.Logger,
					Demands: env.Peers[demand.Name], SweepInterval: env.SweepInterval,
					Notify: escalation.NotifyConfig{
						WebhookURL: env.Notify.WebhookURL, WebhookSecret: env.Notify.WebhookSecret, WebhookRoots: env.Notify.WebhookRoots,
						AllowLoopbackHTTP: env.Notify.AllowLoopbackHTTP,
						QuietHours:        env.Notify.QuietHours, MaxAttempts: env.Notify.MaxAttempts,
					}})
			},
			Migrations:      escalationmigrations.FS,
			Policies:        escalation.Policies,
			RegisterGateway: gatewayRoutes(escalationv1.RegisterCaseServiceHandler, auditRoute(escalation.Name)),
		},
		{
			Name:    contract.Name,
			DevPort: 9104,
			// Drafts come from demand's feed (ProjectMatched), fulfilments from partner's
			// (activities naming a contract). Working days are the rules file's calendar.
			Peers:    []string{demand.Name, partner.Name},
			Rules:    true,
			Sweeps:   true,
			FollowUp: true,
			Open: func(ctx context.Context, env Env) (Registrar, error) {
				r, err := LoadRules(env.Rules)
				if err != nil {
					return nil, err
				}
				return contract.Open(ctx, contract.Config{DB: env.DB, Tree: env.Tree, Logger: env.Logger, Calendar: r.Calendar(),
					Demands: env.Peers[demand.Name], Partners: env.Peers[partner.Name], SweepInterval: env.SweepInterval,
					DueSoonWorkdays: env.FollowUp.DueSoonWorkdays, InactiveDays: env.FollowUp.InactiveDays})
			},
			Migrations:      contractmigrations.FS,
			Policies:        contract.Policies,
			RegisterGateway: gatewayRoutes(contractv1.RegisterContractServiceHandler, auditRoute(contract.Name)),
		},
		{
			Name:    reporting.Name,
			DevPort: 9105,
			// It counts every other service's feed.
			Peers: []string{partner.Name, demand.Name, escalation.Name, contract.Name},
			Open: func(ctx context.Context, env Env) (Registrar, error) {
				sources := map[string]grpc.ClientConnInterface{}
				for _, name := range []string{reporting.SourcePartner, reporting.SourceDemand, reporting.SourceEscalation, reporting.SourceContract} {
					if conn, ok := env.Peers[name]; ok && conn != nil {
						sources[name] = conn
					}
				}
				return reporting.Open(ctx, reporting.Config{DB: env.DB, Tree: env.Tree, Logger: env.Logger, Sources: sources})
			},
			Migrations:      reportingmigrations.FS,
			Policies:        reporting.Policies,
			RegisterGateway: gatewayRoutes(reportingv1.RegisterReportServiceHandler),
		},
	}
}

// LoadRules reads the district's rules file at path: "demo" or "" for the Jiangnan demo rules.
func LoadRules(path string) (*rules.Rules, error) {
	if path == "" || path == "demo" {
		return rules.Demo(), nil
	}
	return rules.Load(path)
}

// gatewayRoutes mounts every route of registers on the gateway, all to one upstream.
func gatewayRoutes(registers ...func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error) func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error {
	return func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
		for _, register := range registers {
			if err := register(ctx, mux, conn); err != nil {
				return err
			}
		}
		return nil
	}
}

// auditRoute mounts GET /v1/services/{name}/auditRecords, the service's AuditService, on the
// gateway. Every service serves the method for its own records, so the generated handler (one
// pattern, /v1/{parent=services/*}/auditRecords, for one upstream) cannot route it: each
// service's literal path goes to that service instead, with the gateway's own marshalling,
// metadata and errors, as the generated handler does it.
func auditRoute(name string) func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error {
	const method = "/jiayuan.audit.v1.AuditService/ListAuditRecords"
	path := "/v1/services/" + name + "/auditRecords"
	return func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
		client := auditv1.NewAuditServiceClient(conn)
		return mux.HandlePath(http.MethodGet, path, func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			_, out := runtime.MarshalerForRequest(mux, r)
			ctx, err := runtime.AnnotateContext(r.Context(), mux, r, method, runtime.WithHTTPPathPattern("/v1/{parent=services/*}/auditRecords"))
			if err != nil {
				runtime.HTTPError(r.Context(), mux, out, w, r, err)
				return
			}
			req := &auditv1.ListAuditRecordsRequest{}
			if err := r.ParseForm(); err != nil {
				runtime.HTTPError(ctx, mux, out, w, r, status.Error(codes.InvalidArgument, err.Error()))
				return
			}
			if err := runtime.PopulateQueryParameters(req, r.Form, utilities.NewDoubleArray([][]string{{"parent"}})); err != nil {
				runtime.HTTPError(ctx, mux, out, w, r, status.Error(codes.InvalidArgument, err.Error()))
				return
			}
			req.Parent = "services/" + name
			var md runtime.ServerMetadata
			resp, err := client.ListAuditRecords(ctx, req, grpc.Header(&md.HeaderMD), grpc.Trailer(&md.TrailerMD))
			ctx = runtime.NewServerMetadataContext(ctx, md)
			if err != nil {
				runtime.HTTPError(ctx, mux, out, w, r, err)
				return
			}
			runtime.ForwardResponseMessage(ctx, mux, out, w, r, resp, mux.GetForwardResponseOptions()...)
		})
	}
}

// Lookup returns the spec of the service called name.
func Lookup(name string) (Spec, bool) {
	for _, s := range Services() {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Names lists the services' names.
func Names() []string {
	var out []string
	for _, s := range Services() {
		out = append(out, s.Name)
	}
	return out
}
