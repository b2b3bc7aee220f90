package soak_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/internal/demo"
	"github.com/jiayuan/jiayuan/internal/privatepg"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
)

// cluster is a private PostgreSQL cluster in a directory of its own, on a spare port: never the
// shared server.
type cluster struct {
	t      *testing.T
	runner *privatepg.Runner
	dir    string // the server's user owns it: data directories, the WAL archive, the base backup
	port   int
}

func (c *cluster) pg(name string, args ...string) string {
	c.t.Helper()
	return c.runner.Run(c.t, name, args...)
}

func (c *cluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// start starts the cluster in data and waits until it takes connections.
func (c *cluster) start(data string) {
	c.t.Helper()
	c.pg("pg_ctl", "-D", data, "-l", filepath.Join(c.dir, filepath.Base(data)+".log"), "-w", "-t", "120", "start")
}

func (c *cluster) stop(data string) {
	c.t.Helper()
	c.pg("pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
}

// TestRestoreFromBackup follows docs/deploy.md's restore runbook as far as it applies outside
// Kubernetes, on a private cluster: CloudNativePG's recovery is a base backup plus the WAL
// archive, replayed into a new cluster (to the archive's end, or to a moment), and that is what
// this does with PostgreSQL's own tools (pg_basebackup, archive_command, restore_command,
// recovery_target_time). The partner service writes before and after the backup; the cluster
// is lost; restored to the end, everything acknowledged is there and the service starts and
// writes on it; restored to a moment between, what came before is there and what came after is
// not.
func TestRestoreFromBackup(t *testing.T) {
	ctx := t.Context()
	runner := privatepg.New(t, "jiayuan-restore-")
	dir := runner.Dir
	c := &cluster{t: t, runner: runner, dir: dir}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()

	data, archive, base := filepath.Join(dir, "data"), filepath.Join(dir, "archive"), filepath.Join(dir, "base")
	c.pg("mkdir", archive)
	c.pg("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
	conf := fmt.Sprintf("\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"+
		"wal_level = replica\narchive_mode = on\narchive_command = 'test ! -f %s/%%f && cp %%p %s/%%f'\nmax_connections = 50\n",
		c.port, dir, archive, archive)
	appendFile(t, filepath.Join(data, "postgresql.conf"), conf)
	c.start(data)
	running := data
	t.Cleanup(func() {
		if running != "" {
			_ = runner.Command("pg_ctl", "-D", running, "-m", "immediate", "-w", "stop").Run()
		}
	})
	admin, err := pgx.Connect(ctx, c.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE partner"); err != nil {
		t.Fatal(err)
	}
	exec1 := func(sql string) string {
		var out string
		if err := admin.QueryRow(ctx, sql).Scan(&out); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return out
	}

	keys, err := personal.GenerateKeys("k1")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, c.url("partner"), keys)
	svc := e.start(release{name: "current"})
	client, actx := e.client(svc.addr)
	create := func(label string) string {
		resp, err := client.CreatePartner(actx, &partnerv1.CreatePartnerRequest{Partner: &partnerv1.Partner{
			DisplayName: "恢复志愿者" + label, RegionCode: demo.Erqiaoxi, ServiceAreas: []string{demo.Erqiaoxi},
			RecruitmentChannel: partnerv1.RecruitmentChannel(1), Contact: &partnerv1.Contact{PersonName: "李四", Phone: "13900000000"},
			Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE, CapacityHoursPerMonth: 4}}}})
		if err != nil {
			t.Fatalf("create %s: %v", label, err)
		}
		return resp.GetPartner().GetName()
	}
	before := create("before the backup")
	// The base backup (CloudNativePG's nightly ScheduledBackup).
	c.pg("pg_basebackup", "-h", dir, "-p", strconv.Itoa(c.port), "-U", "postgres", "-D", base, "-X", "stream", "-c", "fast")
	afterBackup := create("after the backup")
	time.Sleep(1100 * time.Millisecond)
	moment := exec1("SELECT to_char(now(), 'YYYY-MM-DD HH24:MI:SS.US') || to_char(now(), 'TZH:TZM')")
	time.Sleep(1100 * time.Millisecond)
	late := create("after the moment")
	// The archive gets the last segment, as continuous archiving does.
	waitArchived(t, archive, exec1("SELECT pg_walfile_name(pg_switch_wal())"))
	admin.Close(ctx)
	svc.stop()

	// The cluster is lost (the runbook's step 3 deletes it; its volumes go with it).
	c.stop(data)
	running = ""
	c.pg("rm", "-rf", data)

	for _, tc := range []struct {
		name   string
		target string // recovery_target_time; empty: the end of the archive
		want   map[string]bool
	}{
		{"to the end of the archive", "", map[string]bool{before: true, afterBackup: true, late: true}},
		{"to a moment", moment, map[string]bool{before: true, afterBackup: true, late: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			restored := filepath.Join(dir, "restored-"+strconv.Itoa(len(tc.target)))
			c.pg("cp", "-a", base, restored)
			conf := fmt.Sprintf("\nrestore_command = 'cp %s/%%f %%p'\narchive_command = '/bin/true'\n", archive)
			if tc.target != "" {
				conf += fmt.Sprintf("recovery_target_time = '%s'\nrecovery_target_action = 'promote'\n", tc.target)
			}
			appendFile(t, filepath.Join(restored, "postgresql.conf"), conf)
			c.pg("touch", filepath.Join(restored, "recovery.signal"))
			c.start(restored)
			running = restored
			defer func() {
				c.stop(restored)
				running = ""
			}()
			waitPromoted(t, c.url("postgres"))

			// The service starts on the restored database (its migrations find nothing to do)
			// and serves what was there, and writes.
			e := newEnv(t, c.url("partner"), keys)
			svc := e.start(release{name: "current"})
			defer svc.stop()
			client, actx := e.client(svc.addr)
			for name, want := range tc.want {
				_, err := client.GetPartner(actx, &partnerv1.GetPartnerRequest{Name: name})
				if got := err == nil; got != want {
					t.Errorf("partner %s: present %v (%v), want %v", name, got, err, want)
				}
			}
			if _, err := client.CreatePartner(actx, &partnerv1.CreatePartnerRequest{Partner: &partnerv1.Partner{
				DisplayName: "恢复之后", RegionCode: demo.Erqiaoxi, ServiceAreas: []string{demo.Erqiaoxi},
				RecruitmentChannel: partnerv1.RecruitmentChannel(1), Contact: &partnerv1.Contact{PersonName: "李四", Phone: "13900000000"},
				Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE, CapacityHoursPerMonth: 4}}}}); err != nil {
				t.Errorf("the restored cluster takes no write: %v", err)
			}
		})
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitArchived waits until the archiver has copied the segment into the archive.
func waitArchived(t *testing.T, archive, segment string) {
	t.Helper()
	for range 300 {
		if _, err := os.Stat(filepath.Join(archive, segment)); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("WAL segment %s was not archived into %s within 30 s", segment, archive)
}

// waitPromoted waits until the restored cluster has replayed the archive and takes writes.
func waitPromoted(t *testing.T, url string) {
	t.Helper()
	for range 600 {
		conn, err := pgx.Connect(t.Context(), url)
		if err == nil {
			var inRecovery bool
			err = conn.QueryRow(t.Context(), "SELECT pg_is_in_recovery()").Scan(&inRecovery)
			conn.Close(context.Background())
			if err == nil && !inRecovery {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the restored cluster did not leave recovery within 60 s")
}

// newEnv is what a partner replica on url needs.
func newEnv(t *testing.T, url string, keys *personal.Keys) *upgradeEnv {
	t.Helper()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(t.Context(), signer.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return &upgradeEnv{t: t, url: url, verifier: verifier, signer: signer, keys: keys, peer: peer}
}

// client dials one replica as the district's admin.
func (e *upgradeEnv) client(addr string) (partnerv1.PartnerServiceClient, context.Context) {
	e.t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	tok, err := e.signer.Token(auth.Principal{Subject: "restore-admin", Roles: []auth.Role{auth.RoleAdmin}, Scope: []string{demo.District}}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return partnerv1.NewPartnerServiceClient(conn), metadata.AppendToOutgoingContext(e.t.Context(), "authorization", "Bearer "+tok)
}
