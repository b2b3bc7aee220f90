package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/platform/webhook"
	"github.com/jiayuan/jiayuan/services/demand/internal/notify"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
	"github.com/jiayuan/jiayuan/services/demand/migrations"
)

// TestReplicas: three senders (three replicas of the service) over one database deliver every
// notification exactly once between them, on every back end.
func TestReplicas(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db := b.Open(t)
			if err := db.Migrate(ctx, "demand", migrations.FS()); err != nil {
				t.Fatal(err)
			}
			keys, err := personal.GenerateKeys("test")
			if err != nil {
				t.Fatal(err)
			}
			st := store.New(keys)
			d := &demandv1.Demand{
				Name: "demands/01JZZZZZZZZZZZZZZZZZZZZZZZ", Kind: demandv1.DemandKind_DEMAND_KIND_PROBLEM, Title: "路灯不亮",
				CommunityCode: "450105001001", Channel: demandv1.Channel_CHANNEL_WALK_IN, Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED,
				Reporter: &demandv1.Reporter{Phone: "13800001111"}, CreateTime: timestamppb.Now(),
			}
			const n = 40
			if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
				if err := st.InsertDemand(ctx, tx, d, "", nil); err != nil {
					return err
				}
				for i := range n {
					if _, err := st.EnqueueNotification(ctx, tx, store.Outgoing{Demand: d.GetName(), Kind: demandv1.RecipientKind_RECIPIENT_KIND_REPORTER,
						Phone: "13800001111", Message: fmt.Sprintf("第%d条", i)}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			calls := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				time.Sleep(5 * time.Millisecond)
				mu.Lock()
				calls[r.Header.Get(webhook.IdempotencyHeader)]++
				mu.Unlock()
			}))
			defer srv.Close()
			hook, err := webhook.New(webhook.Config{URL: srv.URL, Secret: []byte("0123456789abcdef0123"), AllowLoopbackHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			run, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for range 3 {
				s := notify.New(notify.Config{DB: db, Store: st, Webhook: hook, Poll: 10 * time.Millisecond, Batch: 3,
					Logger: slog.New(slog.DiscardHandler)})
				wg.Go(func() { _ = s.Run(run) })
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				mu.Lock()
				got := len(calls)
				mu.Unlock()
				if got == n || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			stop()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(calls) != n {
				t.Fatalf("%d notifications delivered, want %d", len(calls), n)
			}
			for key, c := range calls {
				if c != 1 {
					t.Errorf("%s delivered %d times", key, c)
				}
			}
			ns, _, err := st.ListNotifications(ctx, db, d.GetName(), 100, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range ns {
				if x.GetState() != demandv1.NotificationState_NOTIFICATION_STATE_SENT || x.GetAttempts() != 1 {
					t.Errorf("%s: %v after %d tries", x.GetName(), x.GetState(), x.GetAttempts())
				}
			}
		})
	}
}
