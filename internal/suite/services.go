// Package suite assembles jiayuan's services: the catalogue of services the binary can run,
// running one of them as Kubernetes does (`jiayuan serve <service>`), and running all of them
// with the gateway in one process (`jiayuan dev`).
package suite

import (
	"context"
	"io/fs"
	"log/slog"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/partner"
	"github.com/jiayuan/jiayuan/services/partner/migrations"
)

// Registrar is a built service, ready to be registered on a gRPC server.
type Registrar interface {
	Register(grpc.ServiceRegistrar)
}

// Spec describes one service of the suite.
type Spec struct {
	Name string
	// DevPort is the service's gRPC port under `jiayuan dev`.
	DevPort int
	// Open migrates db and builds the service.
	Open func(ctx context.Context, db *sqlstore.DB, tree *region.Tree, log *slog.Logger) (Registrar, error)
	// Migrations is the service's schema (postgres/ and sqlite/ directories).
	Migrations func() fs.FS
	// Policies lists the roles allowed on each of the service's methods.
	Policies func() auth.Policies
	// RegisterGateway mounts the service's REST mapping on the gateway.
	RegisterGateway func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error
}

// Services is the catalogue of services, in start order.
func Services() []Spec {
	return []Spec{
		{
			Name:    partner.Name,
			DevPort: 9101,
			Open: func(ctx context.Context, db *sqlstore.DB, tree *region.Tree, log *slog.Logger) (Registrar, error) {
				return partner.Open(ctx, partner.Config{DB: db, Tree: tree, Logger: log})
			},
			Migrations:      migrations.FS,
			Policies:        partner.Policies,
			RegisterGateway: partnerv1.RegisterPartnerServiceHandler,
		},
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
