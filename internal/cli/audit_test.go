package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand"
	demandmigrations "github.com/jiayuan/jiayuan/services/demand/migrations"
)

// TestAuditVerify: `jiayuan audit verify` chains a service's records and reports the chain
// intact, then names the position of a record edited behind the trigger's back.
func TestAuditVerify(t *testing.T) {
	ctx := t.Context()
	url := "sqlite:" + filepath.Join(t.TempDir(), "demand.db")
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, demand.Name, demandmigrations.FS()); err != nil {
		t.Fatal(err)
	}
	trail := audit.New(db, nil)
	for _, res := range []string{"demands/A", "demands/B", "demands/C"} {
		err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			trail.Write(ctx, tx, audit.Record{Kind: audit.KindWrite, Subject: "staff", Roles: []auth.Role{auth.RoleCommunityStaff},
				Method: "/jiayuan.demand.v1.DemandService/UpdateDemand", Resource: res, Paths: []string{"title"}})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"audit", "verify", "demand", "--db-url", url}
	code, out, stderr := run(ctx, args, nil)
	if code != 0 || !strings.Contains(out, "demand: 3 audit records verified, the chain is intact (0 not chained yet)") {
		t.Fatalf("intact: exit %d, %q %q", code, out, stderr)
	}
	// As the database file's owner could: past the trigger.
	for _, stmt := range []string{`DROP TRIGGER audit_records_append_only`, `UPDATE audit_records SET resource = 'demands/X' WHERE seq = (SELECT record_seq FROM audit_chain WHERE position = 2)`} {
		if _, err := db.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	code, _, stderr = run(ctx, args, nil)
	if code != 1 || !strings.Contains(stderr, "1 records verified, then: audit chain broken at position 2") || !strings.Contains(stderr, "edited") {
		t.Fatalf("edited: exit %d, %q", code, stderr)
	}
	if code, _, stderr := run(ctx, []string{"audit", "verify", "parking", "--db-url", url}, nil); code != 1 || !strings.Contains(stderr, `unknown service "parking"`) {
		t.Fatalf("unknown service: exit %d, %q", code, stderr)
	}
}
