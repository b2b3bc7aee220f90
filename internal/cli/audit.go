package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// runAudit runs `jiayuan audit verify <service>`: it checks the service's audit trail (its
// records' hash chain) and reports the first gap or edit.
func runAudit(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("usage: jiayuan audit verify <service> --db-url URL (services: %s)", strings.Join(suite.Names(), ", "))
	}
	args = args[1:]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("name the service whose audit trail to verify: %s", strings.Join(suite.Names(), ", "))
	}
	spec, ok := suite.Lookup(args[0])
	if !ok {
		return fmt.Errorf("unknown service %q: one of %s", args[0], strings.Join(suite.Names(), ", "))
	}
	fs := newFlagSet("jiayuan audit verify "+spec.Name, io)
	dbURL := fs.String("db-url", "", "the service's database: postgres://… or sqlite:PATH")
	chain := fs.Bool("chain", true, "first chain the records whose transactions have ended, as the running service does")
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
	if *chain {
		if _, err := audit.Chain(ctx, db); err != nil {
			return err
		}
	}
	n, problem, err := audit.Verify(ctx, db)
	if err != nil {
		return err
	}
	if problem != nil {
		return fmt.Errorf("%s: %d records verified, then: %w", spec.Name, n, problem)
	}
	var unchained int64
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_records r WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.record_seq = r.seq)`).Scan(&unchained); err != nil {
		return err
	}
	fmt.Fprintf(io.Out, "%s: %d audit records verified, the chain is intact (%d not chained yet)\n", spec.Name, n, unchained)
	return nil
}
