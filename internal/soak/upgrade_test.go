package soak_test

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/internal/demo"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/grpcclient"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// release is one version of the partner service: the real service and its real migrations,
// with a synthetic schema change layered on top (migrations numbered 900xx, for both
// dialects) and the code of that release that uses it (hook, run after each create).
type release struct {
	name  string
	extra []string // the release's own migrations, in order, each for both dialects
	hook  func(ctx context.Context, db *sqlstore.DB, partner string) error
}

// The three releases of an expand/contract change: N keeps a mark of each partner in a table
// of its own (soak_marks_v1); N+1 expands, adding a nullable column soak_mark to parties that
// it writes instead, and which N ignores; N+2 contracts, dropping soak_marks_v1, which the only
// release still serving during its rollout (N+1) no longer uses.
var (
	releaseN = release{name: "N",
		extra: []string{"CREATE TABLE soak_marks_v1 (partner TEXT PRIMARY KEY, mark TEXT NOT NULL);"},
		hook: func(ctx context.Context, db *sqlstore.DB, p string) error {
			_, err := db.Exec(ctx, `INSERT INTO soak_marks_v1 (partner, mark) VALUES ($1, 'N')`, p)
			return err
		}}
	releaseN1 = release{name: "N+1",
		extra: append(releaseN.extra, "ALTER TABLE parties ADD COLUMN soak_mark TEXT;"),
		hook:  markColumn("N+1")}
	releaseN2 = release{name: "N+2",
		extra: append(releaseN1.extra, "DROP TABLE soak_marks_v1;"),
		hook:  markColumn("N+2")}
	// releaseTooEarly breaks the rule: it drops what the release before it still uses, in the
	// release that stops using it.
	releaseTooEarly = release{name: "N+1 contracting at once",
		extra: append(append([]string{}, releaseN1.extra...), "DROP TABLE soak_marks_v1;"),
		hook:  markColumn("N+1")}
)

func markColumn(mark string) func(ctx context.Context, db *sqlstore.DB, p string) error {
	return func(ctx context.Context, db *sqlstore.DB, p string) error {
		_, err := db.Exec(ctx, `UPDATE parties SET soak_mark = $2 WHERE name = $1`, p, mark)
		return err
	}
}

// migrations is the partner service's real migrations with the release's own after them.
func (r release) migrations(t *testing.T, real fs.FS) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	if err := fs.WalkDir(real, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(real, path)
		out[path] = &fstest.MapFile{Data: data}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i, stmt := range r.extra {
		for _, dialect := range []string{"postgres", "sqlite"} {
			out[fmt.Sprintf("%s/%05d_soak.sql", dialect, 90001+i)] = &fstest.MapFile{Data: []byte("-- +goose Up\n" + stmt + "\n")}
		}
	}
	return out
}

// upgradeEnv is what every node of a run shares: the database, the verifier, the peers.
type upgradeEnv struct {
	t        *testing.T
	url      string
	verifier *auth.Verifier
	signer   *auth.DevSigner
	keys     *personal.Keys
	peer     *grpc.ClientConn // contract: nothing here calls it
}

// node is one replica serving.
type node struct {
	release string
	addr    string
	stop    func()
}

// start runs a replica of release r, as a new pod does: migrate (its init container, while
// the older replicas serve), then serve.
func (e *upgradeEnv) start(r release) *node {
	t := e.t
	spec, _ := suite.Lookup("partner")
	real := spec.Migrations()
	mig := r.migrations(t, real)
	db := sqlstoretest.OpenURL(t, e.url) // the release's own code's handle
	// `jiayuan migrate partner` with this release's migrations: the pod's init container,
	// while the older replicas serve. The service migrates on start too (its embedded set,
	// here without the synthetic files): that must find nothing to undo.
	if err := db.Migrate(t.Context(), spec.Name, mig); err != nil {
		t.Fatalf("release %s: migrate: %v", r.name, err)
	}
	hook := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if c, ok := resp.(*partnerv1.CreatePartnerResponse); ok && err == nil && r.hook != nil {
			if err := r.hook(ctx, db, c.GetPartner().GetName()); err != nil {
				// Said to the caller, so that a test can tell this release's failure apart.
				return nil, status.Errorf(codes.FailedPrecondition, "release %s: %v", r.name, err)
			}
		}
		return resp, err
	}
	n, err := suite.OpenNode(t.Context(), spec, suite.NodeConfig{
		DatabaseURL: e.url, PoolSize: 4, Tree: region.Demo(), Verifier: e.verifier, Keys: e.keys,
		Logger:        slog.New(slog.DiscardHandler),
		ServerOptions: server.Options{DrainDelay: 200 * time.Millisecond, ShutdownTimeout: 5 * time.Second, Unary: []grpc.UnaryServerInterceptor{hook}},
		Peers:         map[string]grpc.ClientConnInterface{"contract": e.peer},
	})
	if err != nil {
		t.Fatalf("release %s: %v", r.name, err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, lis) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("release %s stopped with %v", r.name, err)
			}
		})
	}
	t.Cleanup(stop)
	return &node{release: r.name, addr: lis.Addr().String(), stop: stop}
}

// rollout drives creates and reads through a round-robin connection over the serving
// replicas, as the gateway does over a headless Service, while it replaces two replicas of
// each release with two of the next, one at a time (maxUnavailable 0: a new one serves before
// an old one goes; the old one leaves the endpoints first, then drains). It returns the calls
// made and the failures.
func rollout(t *testing.T, url string, releases ...release) (calls, failed int64, firstErr error, created []string) {
	ctx := t.Context()
	dir := t.TempDir()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ctx, signer.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := personal.GenerateKeys("k1")
	if err != nil {
		t.Fatal(err)
	}
	peer, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	e := &upgradeEnv{t: t, url: url, verifier: verifier, signer: signer, keys: keys, peer: peer}

	var (
		mu      sync.Mutex
		serving []*node
	)
	res := manual.NewBuilderWithScheme("upgrade")
	publish := func() {
		mu.Lock()
		defer mu.Unlock()
		var addrs []resolver.Address
		for _, n := range serving {
			addrs = append(addrs, resolver.Address{Addr: n.addr})
		}
		res.UpdateState(resolver.State{Addresses: addrs})
	}
	serving = []*node{e.start(releases[0]), e.start(releases[0])}
	res.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: serving[0].addr}, {Addr: serving[1].addr}}})
	conn, err := grpc.NewClient(res.Scheme()+":///partner", append(grpcclient.DialOptions(grpcclient.DefaultCallTimeout),
		grpc.WithResolvers(res), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := partnerv1.NewPartnerServiceClient(conn)
	tok, err := signer.Token(auth.Principal{Subject: "upgrade-admin", Roles: []auth.Role{auth.RoleAdmin}, Scope: []string{demo.District}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)

	var (
		n, bad  atomic.Int64
		errOnce sync.Once
		names   sync.Map
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		bad.Add(1)
		errOnce.Do(func() { firstErr = err })
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n.Add(1)
				resp, err := client.CreatePartner(actx, &partnerv1.CreatePartnerRequest{
					RequestId: uuid.NewString(),
					Partner: &partnerv1.Partner{DisplayName: fmt.Sprintf("升级志愿者%d-%d", w, i), RegionCode: demo.Erqiaoxi,
						ServiceAreas: []string{demo.Erqiaoxi}, RecruitmentChannel: partnerv1.RecruitmentChannel(1),
						Contact:      &partnerv1.Contact{PersonName: "张三", Phone: "13800000000"},
						Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE, CapacityHoursPerMonth: 8}}},
				})
				if err != nil {
					fail(fmt.Errorf("create: %w", err))
					continue
				}
				name := resp.GetPartner().GetName()
				names.Store(name, true)
				n.Add(1)
				if _, err := client.GetPartner(actx, &partnerv1.GetPartnerRequest{Name: name}); err != nil {
					fail(fmt.Errorf("get %s: %w", name, err))
				}
			}
		}()
	}
	settle := func() {
		for start := n.Load(); n.Load() < start+40; {
			time.Sleep(10 * time.Millisecond)
		}
	}
	settle()
	for _, next := range releases[1:] {
		for i := range 2 {
			fresh := e.start(next) // migrates (the first of the release) while the old ones serve
			mu.Lock()
			old := serving[0]
			serving = append(serving[1:], fresh)
			mu.Unlock()
			publish() // the old replica leaves the endpoints, the new one joins
			settle()
			old.stop() // then it drains and stops
			t.Logf("release %s: replica %d of 2 replaced one of %s", next.name, i+1, old.release)
			settle()
		}
	}
	close(stop)
	wg.Wait()
	names.Range(func(k, _ any) bool {
		created = append(created, k.(string))
		return true
	})
	return n.Load(), bad.Load(), firstErr, created
}

// TestRollingUpgradeExpandContract rolls the partner service through three releases of a
// schema change on one database, under load, two replicas each, with the older release
// serving beside the newer one during each rollout: N → N+1 (expand: a new nullable column
// N+1 writes and N ignores) → N+2 (contract: the table only N used dropped). No call may
// fail, every acknowledged create is there once, and each release wrote what it owns.
// Breaking the rule — contracting in the same release that stops using the table, while N
// still serves — must make calls fail, so the test can see a bad migration.
func TestRollingUpgradeExpandContract(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.NewURL(t)
			calls, failed, firstErr, created := rollout(t, url, releaseN, releaseN1, releaseN2)
			t.Logf("%d calls during the rollouts N → N+1 → N+2, %d failed, %d partners created", calls, failed, len(created))
			if failed > 0 {
				t.Fatalf("%d of %d calls failed during the rollout; first: %v", failed, calls, firstErr)
			}
			db := sqlstoretest.OpenURL(t, url)
			var rows, marked, unmarked int64
			if err := db.QueryRow(t.Context(), `SELECT COUNT(*), COUNT(soak_mark), COUNT(*) - COUNT(soak_mark) FROM parties WHERE display_name LIKE '升级志愿者%'`).Scan(&rows, &marked, &unmarked); err != nil {
				t.Fatal(err)
			}
			if rows != int64(len(created)) {
				t.Errorf("%d partner rows, %d creates acknowledged: a retry duplicated or lost one", rows, len(created))
			}
			var byN2 int64
			if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM parties WHERE soak_mark = 'N+2'`).Scan(&byN2); err != nil {
				t.Fatal(err)
			}
			// N's partners are unmarked (N wrote soak_marks_v1, gone now); N+1's and N+2's
			// carry their mark.
			if marked == 0 || byN2 == 0 || unmarked == 0 {
				t.Errorf("marks: %d marked (%d by N+2), %d unmarked: every release should have created some", marked, byN2, unmarked)
			}
			if _, err := db.Exec(t.Context(), `SELECT 1 FROM soak_marks_v1`); err == nil {
				t.Error("soak_marks_v1 is still there after the contract")
			}
		})
	}
	t.Run("contract too early", func(t *testing.T) {
		url := sqlstoretest.Backends(t)[0].NewURL(t)
		calls, failed, firstErr, _ := rollout(t, url, releaseN, releaseTooEarly)
		t.Logf("%d calls, %d failed (first: %v)", calls, failed, firstErr)
		if failed == 0 || !strings.Contains(fmt.Sprint(firstErr), "soak_marks_v1") {
			t.Errorf("dropping the table N uses while N serves: %d calls failed (first: %v), want N's writes to fail on it: the rollout cannot see a bad migration", failed, firstErr)
		}
	})
}
