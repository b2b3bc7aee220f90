package eventfeed_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

const (
	erqiao   = "450105001001" // 二桥西社区
	neighbor = "450105001002" // another community of the same sub-district
	street   = "450105001"    // their sub-district
)

// asCaller stands in for the auth interceptor: the principal is named by test metadata.
func asCaller(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	role, scope := md.Get("x-role"), md.Get("x-scope")
	if len(role) == 0 {
		return handler(srv, ss)
	}
	p := auth.Principal{Subject: "t", Roles: []auth.Role{auth.Role(role[0])}, Scope: strings.Split(scope[0], ",")}
	return handler(srv, &ctxStream{ServerStream: ss, ctx: auth.WithPrincipal(ss.Context(), p)})
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

func TestWatchKeepsToTheCallersScope(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := migrated(t, b)
			outbox := eventfeed.NewOutbox()
			feed := eventfeed.NewFeed(db, outbox, eventfeed.WithPollInterval(fastPoll), eventfeed.WithScope(region.Demo()))
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := grpc.NewServer(grpc.StreamInterceptor(asCaller))
			eventsv1.RegisterEventFeedServiceServer(srv, feed)
			go func() { _ = srv.Serve(lis) }()
			t.Cleanup(func() { feed.Close(); srv.Stop() })
			conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			client := eventsv1.NewEventFeedServiceClient(conn)

			// More than one Watch batch of the neighbour's events first: a scoped watcher must
			// step past them, not stall on a batch it may not see.
			var regions []string
			for range 600 {
				regions = append(regions, neighbor)
			}
			regions = append(regions, erqiao, neighbor, street+"000", erqiao)
			all := appendIn(t, db, outbox, regions...)
			mine := []string{all[600], all[603]}

			watchAs := func(role auth.Role, scope string) *watcher {
				ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("x-role", string(role), "x-scope", scope))
				return watchCtx(t, ctx, client)
			}
			admin := watchAs(auth.RoleAdmin, erqiao)
			if got := ids(admin.next(t, 2)); !slices.Equal(got, mine) {
				t.Errorf("admin of 二桥西 saw %v, want only %v", got, mine)
			}
			admin.none(t, 200*time.Millisecond)

			system := watchAs(auth.RoleSystem, erqiao)
			if got := system.next(t, len(all)); !slices.Equal(ids(got), all) {
				t.Errorf("a system principal saw %d events, want all %d", len(got), len(all))
			}
			streetAdmin := watchAs(auth.RoleAdmin, street)
			if got := streetAdmin.next(t, len(all)-1); len(got) != len(all)-1 {
				t.Errorf("the sub-district's admin saw %d events, want %d", len(got), len(all)-1)
			}

			// Followed events are filtered too.
			more := appendIn(t, db, outbox, neighbor, erqiao)
			if got := admin.next(t, 1); got[0].GetId() != more[1] {
				t.Errorf("followed %s, want %s", got[0].GetId(), more[1])
			}
			admin.none(t, 200*time.Millisecond)
		})
	}
}

// appendIn appends one event per region code, in one transaction, and returns the ids.
func appendIn(t *testing.T, db *sqlstore.DB, o *eventfeed.Outbox, regions ...string) []string {
	t.Helper()
	ids := make([]string, 0, len(regions))
	err := db.InTx(testContext(t), func(ctx context.Context, tx sqlstore.Tx) error {
		for _, code := range regions {
			id, err := o.Append(ctx, tx, "demands/x", code, str(code))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return ids
}
