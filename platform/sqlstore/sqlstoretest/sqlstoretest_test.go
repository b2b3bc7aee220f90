package sqlstoretest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

const childEnv = "SQLSTORETEST_CHILD"

func TestBackendsWithoutPostgresURLIsSQLiteOnly(t *testing.T) {
	t.Setenv(sqlstoretest.PostgresURLEnv, "")
	bs := sqlstoretest.Backends(t)
	if len(bs) != 1 || bs[0].Name != "sqlite" {
		t.Fatalf("Backends = %v, want sqlite only", bs)
	}
	db := bs[0].Open(t)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestBackendsFailWhenPostgresUnreachable runs a test in a child process with the variable
// pointing at a closed port: that test must fail, not skip.
func TestBackendsFailWhenPostgresUnreachable(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		for _, b := range sqlstoretest.Backends(t) {
			b.Open(t)
		}
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBackendsFailWhenPostgresUnreachable$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1",
		sqlstoretest.PostgresURLEnv+"=postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child test passed with PostgreSQL unreachable:\n%s", out)
	}
	if !strings.Contains(string(out), "--- FAIL") || !strings.Contains(string(out), "PostgreSQL is unreachable") {
		t.Errorf("child output does not show the expected failure:\n%s", out)
	}
}

func TestPostgresDatabaseIsFreshAndDropped(t *testing.T) {
	b, ok := sqlstoretest.PostgresBackend(t)
	if !ok {
		t.Skip(sqlstoretest.PostgresURLEnv + " not set")
	}
	var names []string
	t.Run("inner", func(t *testing.T) {
		for range 2 {
			db := b.Open(t)
			var name string
			var tables int64
			if err := db.QueryRow(t.Context(), `SELECT current_database(),
				(SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public')`).Scan(&name, &tables); err != nil {
				t.Fatal(err)
			}
			if tables != 0 {
				t.Errorf("database %s is not empty: %d tables", name, tables)
			}
			if _, err := db.Exec(t.Context(), `CREATE TABLE t (x BIGINT)`); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
	})
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %v, want two distinct", names)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, os.Getenv(sqlstoretest.PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var left int
	if err := admin.QueryRow(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = ANY($1)`, names).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d test databases left after the test ended", left)
	}
}
