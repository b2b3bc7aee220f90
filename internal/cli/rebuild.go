package cli

import (
	"context"
	"fmt"

	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/reporting"
	reportingmigrations "github.com/jiayuan/jiayuan/services/reporting/migrations"
)

// runRebuild runs `jiayuan rebuild reporting`: it throws the reporting service's figures away
// and moves its cursors back to zero, so that the service, when it next starts, reads every
// feed again from its start. Run it with the service stopped; a running service is rebuilt
// with its RebuildReports RPC (POST /v1/reports:rebuild), which stops and restarts its
// followers itself.
func runRebuild(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 || args[0] != reporting.Name {
		return fmt.Errorf("usage: jiayuan rebuild reporting --db-url URL (only the reporting service is rebuilt from the feeds)")
	}
	fs := newFlagSet("jiayuan rebuild reporting", io)
	dbURL := fs.String("db-url", "", "the reporting service's database: postgres://… or sqlite:PATH")
	if err := fs.Parse(args[1:]); err != nil {
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
	// The schema first: a rebuild of a database the service never started on is a fresh start.
	if err := db.Migrate(ctx, reporting.Name, reportingmigrations.FS()); err != nil {
		return err
	}
	if err := reporting.Reset(ctx, db); err != nil {
		return err
	}
	fmt.Fprintln(io.Out, "reporting: figures reset; the service reads every feed again from its start when it next runs")
	return nil
}
