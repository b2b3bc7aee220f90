// Package privatepg runs PostgreSQL's server programs for tests that need a cluster of their
// own (faults, restarts, restores), never the shared server: it finds the programs, makes a
// directory the server may own, and runs each program as the user the server may run as.
package privatepg

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Runner runs PostgreSQL's programs for one test.
type Runner struct {
	// Bin holds the server programs (initdb, pg_ctl, pg_basebackup).
	Bin string
	// Dir is a directory of the test's own that the server's user owns; removed at cleanup.
	Dir string
	// runAs wraps each command: as root, PostgreSQL refuses to run, so its commands run as
	// the user postgres.
	runAs []string
}

// New finds the server programs and makes Dir (named after pattern, as os.MkdirTemp). It fails
// the test, never skips it, when the programs are missing: the tests that use it are part of
// the suite.
func New(t testing.TB, pattern string) *Runner {
	t.Helper()
	r := &Runner{Bin: bin(t)}
	// Not t.TempDir(): its parents are private to this user, and the server may run as another.
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	r.Dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, a private PostgreSQL must run as the user postgres: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		r.runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	return r
}

// Command is name run as the server's user: one of the server programs when Bin has it (initdb,
// pg_ctl), else name as found on PATH (mkdir, cp).
func (r *Runner) Command(name string, args ...string) *exec.Cmd {
	if _, err := os.Stat(filepath.Join(r.Bin, name)); err == nil {
		name = filepath.Join(r.Bin, name)
	}
	argv := append(slices.Clone(r.runAs), name)
	argv = append(argv, args...)
	return exec.Command(argv[0], argv[1:]...)
}

// Run runs Command and fails the test with its output when it fails.
func (r *Runner) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := r.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// bin finds the server programs under Debian's /usr/lib/postgresql/*/bin (the newest, which
// holds every one of them), else where initdb and pg_ctl are on PATH.
func bin(t testing.TB) string {
	t.Helper()
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.Sort(found)
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1])
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	t.Fatal("this test needs PostgreSQL's server programs (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin: " +
		"install them (Debian: apt-get install postgresql); it is part of the suite and does not skip")
	return ""
}
