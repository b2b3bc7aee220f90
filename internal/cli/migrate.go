package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// runMigrate applies a service's migrations and exits: what a Kubernetes Job runs before a new
// version serves. Services also migrate on start; both take the same lock.
func runMigrate(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("name the service to migrate: %s", strings.Join(suite.Names(), ", "))
	}
	spec, ok := suite.Lookup(args[0])
	if !ok {
		return fmt.Errorf("unknown service %q: one of %s", args[0], strings.Join(suite.Names(), ", "))
	}
	dbURL, settings := migrateFlags(spec, io)
	if err := settings.Flags.Parse(args[1:]); err != nil {
		return err
	}
	if err := config.Required(*dbURL); err != nil {
		return &config.SettingError{Flag: "db-url", Err: err}
	}
	db, err := sqlstore.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx, spec.Name, spec.Migrations()); err != nil {
		return err
	}
	fmt.Fprintf(io.Out, "%s: schema up to date\n", spec.Name)
	return nil
}

// migrateFlags declares the settings of `jiayuan migrate <spec>` and describes them.
func migrateFlags(spec suite.Spec, io IO) (dbURL *string, s *Settings) {
	fs := newFlagSet("jiayuan migrate "+spec.Name, io)
	s = newSettings(fs, "migrate", spec.Name)
	s.Service, s.Database = spec.Name, true
	dbURL = fs.String("db-url", "", "the service's database: postgres://… or sqlite:PATH")
	s.require("db-url")
	return dbURL, s
}
