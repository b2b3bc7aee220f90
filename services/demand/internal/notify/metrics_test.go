package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
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

// TestMetrics: the notifications waiting are counted in the outbox, and each try is counted by
// its outcome, on the database's meter.
func TestMetrics(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			reader := sdkmetric.NewManualReader()
			db, err := sqlstore.Open(ctx, b.NewURL(t), sqlstore.WithMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), "demand"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(db.Close)
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
			messages := []string{"好消息", "也是好消息", "fail"}
			if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
				if err := st.InsertDemand(ctx, tx, d, "", nil); err != nil {
					return err
				}
				for _, m := range messages {
					if _, err := st.EnqueueNotification(ctx, tx, store.Outgoing{Demand: d.GetName(), Kind: demandv1.RecipientKind_RECIPIENT_KIND_REPORTER,
						Phone: "13800001111", Message: m, Urgent: true}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if pending, held, err := st.CountToDeliver(ctx, db); err != nil || pending != 3 || held != 0 {
				t.Fatalf("CountToDeliver = %d pending, %d held, %v; want 3, 0", pending, held, err)
			}

			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if strings.Contains(string(body), "fail") {
					http.Error(w, "no", http.StatusInternalServerError)
				}
			}))
			defer srv.Close()
			hook, err := webhook.New(webhook.Config{URL: srv.URL, Secret: []byte("0123456789abcdef0123"), AllowLoopbackHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			s := notify.New(notify.Config{DB: db, Store: st, Webhook: hook, Poll: 10 * time.Millisecond, MaxAttempts: 1,
				Logger: slog.New(slog.DiscardHandler)})
			run, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.Run(run) }()
			defer func() { stop(); <-done }()

			read := func() map[string]int64 {
				var rm metricdata.ResourceMetrics
				if err := reader.Collect(context.Background(), &rm); err != nil {
					t.Fatal(err)
				}
				out := map[string]int64{}
				for _, sm := range rm.ScopeMetrics {
					for _, m := range sm.Metrics {
						var points []metricdata.DataPoint[int64]
						switch d := m.Data.(type) {
						case metricdata.Sum[int64]:
							points = d.DataPoints
						case metricdata.Gauge[int64]:
							points = d.DataPoints
						}
						for _, p := range points {
							for _, k := range []string{"outcome", "state"} {
								if v, ok := p.Attributes.Value(attribute.Key(k)); ok {
									out[fmt.Sprintf("%s{%s}", m.Name, v.AsString())] = p.Value
								}
							}
						}
					}
				}
				return out
			}
			want := map[string]int64{
				"jiayuan.notifications.deliveries{sent}": 2, "jiayuan.notifications.deliveries{failed}": 1,
				"jiayuan.notifications.deliveries{retry}": 0, "jiayuan.notifications.deliveries{logged}": 0,
				"jiayuan.notifications.to_deliver{pending}": 0, "jiayuan.notifications.to_deliver{held}": 0,
			}
			var got map[string]int64
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if got = read(); equalCounts(got, want) {
					return
				}
			}
			t.Errorf("metrics %v, want %v", got, want)
		})
	}
}

func equalCounts(got, want map[string]int64) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}
