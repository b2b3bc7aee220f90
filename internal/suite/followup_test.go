package suite_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jiayuan/jiayuan/internal/suite"
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestFollowUpSettingsReachTheContractService: the contract service is built with the
// follow-up settings `serve contract` and `dev` pass the node, and with its defaults without
// them.
func TestFollowUpSettingsReachTheContractService(t *testing.T) {
	spec, ok := suite.Lookup("contract")
	if !ok || !spec.FollowUp {
		t.Fatalf("the contract service takes no follow-up settings: %v", ok)
	}
	for _, tc := range []struct {
		name string
		in   suite.FollowUp
		want string
	}{
		{"set", suite.FollowUp{DueSoonWorkdays: 5, InactiveDays: 3}, "due_soon_workdays=5 inactive_days=3"},
		{"defaults", suite.FollowUp{}, "due_soon_workdays=2 inactive_days=14"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nodeConfig(t)
			logs := &syncBuffer{}
			cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
			cfg.Rules, cfg.FollowUp = "demo", tc.in
			cfg.Peers = map[string]grpc.ClientConnInterface{}
			for _, peer := range spec.Peers {
				// Never dialled: the service only builds its followers here.
				conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = conn.Close() })
				cfg.Peers[peer] = conn
			}
			node, err := suite.OpenNode(t.Context(), spec, cfg)
			if err != nil {
				t.Fatal(err)
			}
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := node.Serve(ctx, lis); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "msg=\"contract follow-up\" service=contract "+tc.want) {
				t.Fatalf("the service did not start with %s:\n%s", tc.want, logs.String())
			}
		})
	}
}
