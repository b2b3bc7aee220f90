package suite_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// plain is a service with nothing to register and no background work.
type plain struct{}

func (plain) Register(grpc.ServiceRegistrar) {}

// background is a service whose background work is run.
type background struct {
	plain
	run func(ctx context.Context) error
}

func (b background) Run(ctx context.Context) error { return b.run(ctx) }

func nodeConfig(t *testing.T) suite.NodeConfig {
	t.Helper()
	dir := t.TempDir()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(t.Context(), signer.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	return suite.NodeConfig{
		DatabaseURL: "sqlite:" + filepath.Join(dir, "test.db"), Tree: region.Demo(), Verifier: v,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ServerOptions: server.Options{DrainDelay: -1, ShutdownTimeout: time.Second},
	}
}

func testSpec(open func(env suite.Env) suite.Registrar) suite.Spec {
	return suite.Spec{
		Name:     "test",
		Open:     func(_ context.Context, env suite.Env) (suite.Registrar, error) { return open(env), nil },
		Policies: func() auth.Policies { return auth.Policies{} },
	}
}

// TestNodeRunsBackgroundWork: a service's background work runs while it serves, ends with it,
// and stops the node when it fails.
func TestNodeRunsBackgroundWork(t *testing.T) {
	errFeed := errors.New("partner feed lost")
	for _, tc := range []struct {
		name string
		// run is the background work; db is the service's database.
		run func(ctx context.Context, db *sqlstore.DB) error
		// stop: the test cancels the context once the node serves; otherwise the node must
		// stop by itself.
		stop    bool
		wantErr string
	}{
		{
			name:    "failure stops the node",
			run:     func(context.Context, *sqlstore.DB) error { return errFeed },
			wantErr: "test: background work: partner feed lost",
		},
		{
			name: "stopping waits for it, with the database still open",
			run: func(ctx context.Context, db *sqlstore.DB) error {
				<-ctx.Done()
				time.Sleep(50 * time.Millisecond)
				return db.Ping(context.WithoutCancel(ctx))
			},
			stop: true,
		},
		{
			name: "cancellation is a clean stop",
			run:  func(ctx context.Context, _ *sqlstore.DB) error { <-ctx.Done(); return ctx.Err() },
			stop: true,
		},
		{
			name: "an error while stopping is no failure",
			run:  func(ctx context.Context, _ *sqlstore.DB) error { <-ctx.Done(); return errors.New("flush failed") },
			stop: true,
		},
		{
			name: "finishing early leaves the node serving",
			run:  func(context.Context, *sqlstore.DB) error { return nil },
			stop: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec(func(env suite.Env) suite.Registrar {
				return background{run: func(ctx context.Context) error { return tc.run(ctx, env.DB) }}
			})
			node, err := suite.OpenNode(t.Context(), spec, nodeConfig(t))
			if err != nil {
				t.Fatal(err)
			}
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- node.Serve(ctx, lis) }()
			if tc.stop {
				// Still serving a while later: background work ending cleanly is no reason to stop.
				select {
				case err := <-done:
					t.Fatalf("Serve returned before the stop: %v", err)
				case <-time.After(200 * time.Millisecond):
				}
				cancel()
			}
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return")
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Serve = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Serve = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestOpenNodeNeedsItsPeers: a service is built with connections to the peers it names, and
// only those; a missing one is an error naming it.
func TestOpenNodeNeedsItsPeers(t *testing.T) {
	var got suite.Env
	spec := testSpec(func(env suite.Env) suite.Registrar { got = env; return plain{} })
	spec.Peers = []string{"partner"}

	cfg := nodeConfig(t)
	if _, err := suite.OpenNode(t.Context(), spec, cfg); err == nil || !strings.Contains(err.Error(), "test: no connection to the partner service") {
		t.Fatalf("OpenNode without its peer = %v", err)
	}

	// Connections are lazy: nothing is dialled here.
	dial := func() *grpc.ClientConn {
		conn, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	partner, other := dial(), dial()
	cfg.Peers = map[string]grpc.ClientConnInterface{"partner": partner, "contract": other}
	node, err := suite.OpenNode(t.Context(), spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer node.DB.Close()
	if len(got.Peers) != 1 || got.Peers["partner"] != partner {
		t.Fatalf("the service got peers %v, want only partner", got.Peers)
	}
	if got.DB == nil || got.Tree == nil || got.Logger == nil {
		t.Fatalf("incomplete Env %+v", got)
	}
}

// TestOpenNodeNeedsPhotos: a service keeping photos does not start without a photo store and
// a link key; one that keeps none is not given them.
func TestOpenNodeNeedsPhotos(t *testing.T) {
	var got suite.Env
	spec := testSpec(func(env suite.Env) suite.Registrar { got = env; return plain{} })
	spec.Photos = true
	cfg := nodeConfig(t)
	if _, err := suite.OpenNode(t.Context(), spec, cfg); err == nil || !strings.Contains(err.Error(), "--photo-store") {
		t.Fatalf("OpenNode without photos = %v", err)
	}
	photos, err := suite.DevPhotos(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Photos = photos
	node, err := suite.OpenNode(t.Context(), spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	node.DB.Close()
	if got.Photos != photos {
		t.Error("the service was not given its photos")
	}
	spec.Photos = false
	cfg = nodeConfig(t)
	cfg.Photos = photos
	node, err = suite.OpenNode(t.Context(), spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	node.DB.Close()
	if got.Photos != nil {
		t.Error("a service keeping no photos was given a photo store")
	}
}
