package reporting_test

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/reporting"
	"github.com/jiayuan/jiayuan/services/reporting/migrations"
)

// benchInt reads a size from the environment, so the benchmarks run small by default and at
// full size when asked (JIAYUAN_BENCH_REPORTING_DAYS=366 …).
func benchInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// p99 reports the 99th percentile of ds in milliseconds.
func p99(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[(len(ds)*99)/100])/float64(time.Millisecond), "p99-ms")
}

// seedYear writes a year of aggregates as the feeds would leave them behind a district with
// 1,000,000 demands, 100,000 cases and 50,000 activities: every measure and dimension on
// every day, at the district, one sub-district and one community, and a row per partner and
// day for the ~137 activities a day (the bulk of the table). Only the row count matters to
// the query; the values are the yearly totals spread over the days.
func seedYear(b *testing.B, db *sqlstore.DB, days int) int {
	b.Helper()
	type dim struct {
		measure string
		dims    int
		perDay  int64
	}
	perDay := func(total int64) int64 { return total / 366 }
	layout := []dim{
		{"demands_by_kind", 2, perDay(1_000_000)}, {"demands_by_category", 12, perDay(1_000_000)}, {"demands_by_channel", 9, perDay(1_000_000)},
		{"matters_solved", 1, perDay(700_000)}, {"closed_unresolved", 1, perDay(30_000)}, {"resolution_hist", 12, perDay(700_000)},
		{"needs_matched", 1, perDay(50_000)}, {"ratings", 3, perDay(400_000)}, {"cases_opened", 1, perDay(100_000)},
		{"escalations", 1, perDay(20_000)}, {"cases_closed", 2, perDay(95_000)}, {"first_reply_hist", 10, perDay(100_000)},
		{"meetings", 2, perDay(5_000)}, {"sessions", 7, perDay(50_000)}, {"people_served", 1, perDay(2_000_000)},
		{"volunteer_minutes", 1, perDay(6_000_000)}, {"recruited_by_channel", 5, 8}, {"parties_by_field", 12, 8},
		{"contracts_fulfilled", 1, 1}, {"contracts_breached", 1, 1}, {"inactive_partner_alerts", 1, 1},
		// Stocks, as daily changes.
		{"groups_by_status", 5, 1}, {"partners_by_status", 5, 7}, {"projects_by_status", 8, 1}, {"projects_by_list", 8, 1},
		{"demands_by_status", 9, perDay(1_000_000)}, {"open_cases_by_colour", 3, 1}, {"contracts_active", 1, 1},
		// Rankings only: a row per partner active that day.
		{"partner_minutes", 137, 45}, {"partner_people", 137, 15}, {"partner_sessions", 137, 1},
	}
	regions := []string{"450105", "450105001", "450105001001"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := 0
	for d := 0; d < days; d++ {
		day := start.AddDate(0, 0, d)
		dayNum := day.Year()*10000 + int(day.Month())*100 + day.Day()
		type row struct {
			region, measure, dimension string
			value                      int64
		}
		var batch []row
		for _, r := range regions {
			for _, l := range layout {
				for i := range l.dims {
					dimension := ""
					switch {
					case strings.HasPrefix(l.measure, "partner_"):
						dimension = fmt.Sprintf("partners/P%04d", (d*137+i)%2570) // the day's partners, rotating through the 2,570
					case l.dims > 1:
						dimension = fmt.Sprintf("D%02d", i)
					}
					batch = append(batch, row{r, l.measure, dimension, max(1, l.perDay/int64(l.dims))})
				}
			}
		}
		// At most 1,000 rows a statement: under SQLite's parameter limit, and fast on both.
		for len(batch) > 0 {
			k := min(len(batch), 1000)
			values := make([]string, k)
			args := make([]any, 0, 5*k)
			for i, r := range batch[:k] {
				n := 5 * i
				values[i] = fmt.Sprintf("($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
				args = append(args, r.region, dayNum, r.measure, r.dimension, r.value)
			}
			if _, err := db.Exec(b.Context(), `INSERT INTO aggregates (region_code, day, measure, dimension, value) VALUES `+strings.Join(values, ", "), args...); err != nil {
				b.Fatal(err)
			}
			rows += k
			batch = batch[k:]
		}
	}
	// The monthly rows the feeds write beside the daily ones.
	if _, err := db.Exec(b.Context(), `INSERT INTO monthly_aggregates (region_code, month, measure, dimension, value)
		SELECT region_code, day / 100, measure, dimension, SUM(value) FROM aggregates GROUP BY region_code, day / 100, measure, dimension`); err != nil {
		b.Fatal(err)
	}
	// Fresh statistics, as autovacuum (PostgreSQL) would have them on a table this old.
	if _, err := db.Exec(b.Context(), `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	return rows
}

// BenchmarkHeadlineYear is the headline of the whole district over a year, through gRPC as a
// client calls it, with a year of aggregates behind it (seedYear). Run small by default
// (30 days); JIAYUAN_BENCH_REPORTING_DAYS=366 for the full year.
func BenchmarkHeadlineYear(b *testing.B) {
	days := benchInt("JIAYUAN_BENCH_REPORTING_DAYS", 30)
	for _, backend := range sqlstoretest.Backends(b) {
		b.Run(backend.Name, func(b *testing.B) {
			signer, err := auth.LoadOrCreateDevKey(b.TempDir() + "/dev.pem")
			if err != nil {
				b.Fatal(err)
			}
			db := sqlstoretest.OpenURL(b, backend.NewURL(b))
			svc, err := reporting.Open(b.Context(), reporting.Config{DB: db, Tree: region.Demo()})
			if err != nil {
				b.Fatal(err)
			}
			rows := seedYear(b, db, days)
			srv := assemblytest.Start(b, assemblytest.Config{Name: reporting.Name, Signer: signer, Tree: region.Demo(), Policies: reporting.Policies(), Register: svc.Register})
			conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecureCreds()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			client := reportingv1.NewReportServiceClient(conn)
			ctx := tokenCtx(b, signer, auth.Principal{Subject: "bench", Roles: []auth.Role{auth.RoleDistrictOfficer}, Scope: []string{"450105"}})
			req := &reportingv1.GetHeadlineRequest{RegionCode: "450105", Period: &reportingv1.Period{StartDate: "2025-01-01", EndDate: "2025-12-31"}}
			b.ReportMetric(float64(rows), "rows")
			var ds []time.Duration
			for b.Loop() {
				t0 := time.Now()
				resp, err := client.GetHeadline(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
				if resp.GetFigures().GetDemands() == 0 {
					b.Fatal("no demands counted")
				}
			}
			p99(b, ds)
		})
	}
}

// fakeFeed serves n synthetic events (a demand submitted, its status changes, activities)
// from memory, then keeps the stream open as a caught-up feed does.
type fakeFeed struct {
	eventsv1.UnimplementedEventFeedServiceServer
	events []*eventsv1.Event
}

func newFakeFeed(b *testing.B, n int) *fakeFeed {
	b.Helper()
	f := &fakeFeed{}
	communities := []string{"450105001001", "450105001002", "450105002001", "450105003001"}
	now := timestamppb.Now()
	for i := range n {
		community := communities[i%len(communities)]
		name := fmt.Sprintf("demands/%026d", i/3)
		var payload proto.Message
		switch i % 3 {
		case 0:
			payload = &demandv1.DemandSubmitted{Demand: &demandv1.Demand{Name: name, Kind: demandv1.DemandKind_DEMAND_KIND_NEED,
				Category: typev1.Category_CATEGORY_CHILDCARE, Channel: demandv1.Channel_CHANNEL_ONLINE, CommunityCode: community,
				Status: demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED, CreateTime: now}}
		case 1:
			payload = &demandv1.DemandStatusChanged{Name: name, CommunityCode: community, Kind: demandv1.DemandKind_DEMAND_KIND_NEED,
				FromStatus: demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED, ToStatus: demandv1.DemandStatus_DEMAND_STATUS_RESOLVED}
		default:
			payload = &partnerv1.ActivityRecorded{Activity: &partnerv1.ServiceActivity{Name: fmt.Sprintf("activities/%026d", i),
				Partner: fmt.Sprintf("partners/%026d", i%2570), CommunityCode: community, Kind: partnerv1.ActivityKind_ACTIVITY_KIND_CARE,
				ActivityDate: "2026-06-01", PeopleServed: 20, VolunteerMinutes: 120}}
		}
		a, err := anypb.New(payload)
		if err != nil {
			b.Fatal(err)
		}
		f.events = append(f.events, &eventsv1.Event{Cursor: int64(i + 1), Id: fmt.Sprintf("ev-%d", i+1), Type: string(a.MessageName()),
			Subject: name, RegionCode: community, Time: now, Payload: a})
	}
	return f
}

// Watch sends every event after the cursor in batches, then holds the stream open.
func (f *fakeFeed) Watch(req *eventsv1.WatchRequest, stream grpc.ServerStreamingServer[eventsv1.WatchResponse]) error {
	rest := f.events[min(int(req.GetAfterCursor()), len(f.events)):]
	for len(rest) > 0 {
		k := min(len(rest), 500)
		if err := stream.Send(&eventsv1.WatchResponse{Events: rest[:k]}); err != nil {
			return err
		}
		rest = rest[k:]
	}
	<-stream.Context().Done()
	return nil
}

// serveFake serves register's services on a loopback port without authentication (a fake
// stands for another service; the bench measures this service, not the other's checks).
func serveFake(b *testing.B, register func(*grpc.Server)) string {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	register(srv)
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }

func tokenCtx(b *testing.B, signer *auth.DevSigner, p auth.Principal) context.Context {
	b.Helper()
	tok, err := signer.Token(p, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(b.Context(), "authorization", "Bearer "+tok)
}

// BenchmarkRebuildVsRead reads the same feed to its end twice: merely (a client draining the
// stream) and as a rebuild does (the reporting consumer applying every event to the
// aggregates, a batch of what has arrived in each transaction). Events/s of both are reported. Run small by default
// (3,000 events); JIAYUAN_BENCH_REPORTING_EVENTS sets the count.
func BenchmarkRebuildVsRead(b *testing.B) {
	n := benchInt("JIAYUAN_BENCH_REPORTING_EVENTS", 3000)
	feed := newFakeFeed(b, n)
	addr := serveFake(b, func(s *grpc.Server) { eventsv1.RegisterEventFeedServiceServer(s, feed) })
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecureCreds()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	b.Run("read", func(b *testing.B) { readToEnd(b, eventsv1.NewEventFeedServiceClient(conn), n) })
	// The same events as a service serves them: from its events table, through a real Feed.
	for _, backend := range sqlstoretest.Backends(b) {
		b.Run("read-feed/"+backend.Name, func(b *testing.B) {
			db := sqlstoretest.OpenURL(b, backend.NewURL(b))
			if err := db.Migrate(b.Context(), "", nil); err != nil {
				b.Fatal(err)
			}
			outbox := eventfeed.NewOutbox()
			for chunk := range slices.Chunk(feed.events, 1000) {
				err := db.InTx(b.Context(), func(ctx context.Context, tx sqlstore.Tx) error {
					for _, ev := range chunk {
						m, err := ev.GetPayload().UnmarshalNew()
						if err != nil {
							return err
						}
						if _, err := outbox.Append(ctx, tx, ev.GetSubject(), ev.GetRegionCode(), m); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			addr := serveFake(b, func(s *grpc.Server) { eventsv1.RegisterEventFeedServiceServer(s, eventfeed.NewFeed(db, outbox)) })
			fconn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecureCreds()))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { fconn.Close() })
			client := eventsv1.NewEventFeedServiceClient(fconn)
			readOnce(b, client, n) // positions the events (the relay), once, as a service's feed has
			readToEnd(b, client, n)
		})
	}
	for _, backend := range sqlstoretest.Backends(b) {
		b.Run("rebuild/"+backend.Name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				db := sqlstoretest.OpenURL(b, backend.NewURL(b))
				total += rebuildOnce(b, db, conn, n)
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
		})
	}
	// The database's share of a rebuild: the rows a rebuild leaves behind, written raw into
	// empty tables in one transaction, as the create benchmarks compare a create with its own
	// rows written raw; on PostgreSQL also by COPY, for reference. A rebuild also reads the
	// states it moves and adds to rows written before, so this is a floor of its cost;
	// events/s is the feed's events over the time to write their rows.
	for _, backend := range sqlstoretest.Backends(b) {
		copies := []bool{false}
		if backend.Dialect == sqlstore.Postgres {
			copies = append(copies, true)
		}
		for _, useCopy := range copies {
			name := "rebuild-rows-raw/" + backend.Name
			if useCopy {
				name = "rebuild-rows-copy/" + backend.Name
			}
			b.Run(name, func(b *testing.B) {
				src := sqlstoretest.OpenURL(b, backend.NewURL(b))
				rebuildOnce(b, src, conn, n)
				tables := rebuiltRows(b, src)
				rows := 0
				for _, t := range tables {
					rows += len(t.rows)
				}
				var total time.Duration
				for b.Loop() {
					url := backend.NewURL(b)
					db := sqlstoretest.OpenURL(b, url)
					if _, err := reporting.Open(b.Context(), reporting.Config{DB: db, Tree: region.Demo()}); err != nil {
						b.Fatal(err)
					}
					total += writeRaw(b, backend.Dialect, url, db, tables, useCopy)
					if got := countRows(b, db, tables); got != rows {
						b.Fatalf("wrote %d rows raw, want the rebuild's %d", got, rows)
					}
				}
				b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
				b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
				b.ReportMetric(float64(rows)/float64(n), "rows/event")
			})
		}
	}
}

// rebuildOnce reads the feed at conn, n events, into a reporting service on db from cursor
// zero, and returns how long it took to apply them all.
func rebuildOnce(b *testing.B, db *sqlstore.DB, conn grpc.ClientConnInterface, n int) time.Duration {
	b.Helper()
	svc, err := reporting.Open(b.Context(), reporting.Config{DB: db, Tree: region.Demo(),
		Sources: map[string]grpc.ClientConnInterface{reporting.SourceDemand: conn}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- svc.Run(ctx) }()
	for svc.Cursors()[reporting.SourceDemand] < int64(n) {
		time.Sleep(time.Millisecond)
	}
	took := time.Since(t0)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return took
}

// rawTable is a table a rebuild writes, with the rows it left behind.
type rawTable struct {
	name    string
	columns []string
	rows    [][]any
}

// rebuiltRows reads every row a rebuild wrote: the figures, the states, the applied ids and
// the cursor. The columns follow the migrations.
func rebuiltRows(b *testing.B, db *sqlstore.DB) []rawTable {
	b.Helper()
	tables := []rawTable{
		{name: "aggregates", columns: []string{"region_code", "day", "measure", "dimension", "value"}},
		{name: "monthly_aggregates", columns: []string{"region_code", "month", "measure", "dimension", "value"}},
		{name: "demand_state", columns: []string{"name", "community_code", "status", "submit_us", "solved", "closed_unresolved"}},
		{name: "project_state", columns: []string{"name", "community_code", "status", "list_type", "matched"}},
		{name: "case_state", columns: []string{"name", "community_code", "colour", "is_open", "replied", "closed"}},
		{name: "meeting_state", columns: []string{"name", "community_code", "kind", "day"}},
		{name: "applied_events", columns: []string{"source", "event_id"}},
		{name: "skipped_events", columns: []string{"source", "type", "count"}},
		{name: "consumer_cursors", columns: []string{"consumer", "source", "cursor", "event_id", "updated_us"}},
	}
	// The list is the baseline's: a table the migrations add must join it, or the baseline
	// would leave the new table's rows out and flatter the rebuild.
	listed := map[string]bool{}
	for _, t := range tables {
		listed[t.name] = true
	}
	for _, name := range migratedTables(b) {
		if !listed[name] {
			b.Fatalf("the migrations create table %s, which the raw baseline does not write: add it to rebuiltRows", name)
		}
	}
	for i := range tables {
		t := &tables[i]
		rows, err := db.Query(b.Context(), `SELECT `+strings.Join(t.columns, ", ")+` FROM `+t.name)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(t.columns))
			ptrs := make([]any, len(vals))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				b.Fatal(err)
			}
			t.rows = append(t.rows, vals)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
	}
	return tables
}

// migratedTables names the tables the reporting migrations leave in place: created in an Up
// section and not dropped in a later one.
func migratedTables(b *testing.B) []string {
	b.Helper()
	files, err := fs.Glob(migrations.FS(), "postgres/*.sql")
	if err != nil {
		b.Fatal(err)
	}
	created := regexp.MustCompile(`(?m)^CREATE TABLE (\w+)`)
	dropped := regexp.MustCompile(`(?m)^DROP TABLE (\w+)`)
	tables := map[string]bool{}
	for _, f := range files { // Glob sorts: migrations in order
		data, err := fs.ReadFile(migrations.FS(), f)
		if err != nil {
			b.Fatal(err)
		}
		up, _, _ := strings.Cut(string(data), "-- +goose Down")
		for _, m := range created.FindAllStringSubmatch(up, -1) {
			tables[m[1]] = true
		}
		for _, m := range dropped.FindAllStringSubmatch(up, -1) {
			delete(tables, m[1])
		}
	}
	return slices.Sorted(maps.Keys(tables))
}

// writeRaw writes tables' rows into db's empty tables in one transaction and returns how long
// that took: by INSERTs of 500 rows each, sent together (pipelined on PostgreSQL), as the
// create benchmarks write a create's rows raw; or, with useCopy on PostgreSQL, by COPY on a
// connection of its own on url, the fastest way the database takes rows (for reference).
func writeRaw(b *testing.B, dialect sqlstore.Dialect, url string, db *sqlstore.DB, tables []rawTable, useCopy bool) time.Duration {
	b.Helper()
	ctx := b.Context()
	if useCopy {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		t0 := time.Now()
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, t := range tables {
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, pgx.CopyFromRows(t.rows)); err != nil {
					return fmt.Errorf("copy %s: %w", t.name, err)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	t0 := time.Now()
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		for _, t := range tables {
			for chunk := range slices.Chunk(t.rows, 500) {
				var values strings.Builder
				args := make([]any, 0, len(chunk)*len(t.columns))
				for i, r := range chunk {
					if i > 0 {
						values.WriteString(", ")
					}
					values.WriteByte('(')
					for j, v := range r {
						if j > 0 {
							values.WriteString(", ")
						}
						args = append(args, v)
						if dialect == sqlstore.Postgres {
							values.WriteString("$" + strconv.Itoa(len(args)))
						} else {
							values.WriteByte('?')
						}
					}
					values.WriteByte(')')
				}
				tx.Queue(ctx, `INSERT INTO `+t.name+` (`+strings.Join(t.columns, ", ")+`) VALUES `+values.String(), args...)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// countRows counts the rows of tables in db.
func countRows(b *testing.B, db *sqlstore.DB, tables []rawTable) int {
	b.Helper()
	total := 0
	for _, t := range tables {
		var n int64
		if err := db.QueryRow(b.Context(), `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
			b.Fatal(err)
		}
		total += int(n)
	}
	return total
}

// readToEnd reads client's feed to its n-th event b.N times and reports the events read a
// second.
func readToEnd(b *testing.B, client eventsv1.EventFeedServiceClient, n int) {
	b.Helper()
	var total time.Duration
	for b.Loop() {
		total += readOnce(b, client, n)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
}

// readOnce reads client's feed to its n-th event, decoding every payload as a consumer does
// (so both sides of the comparison pay for it), and returns how long it took.
func readOnce(b *testing.B, client eventsv1.EventFeedServiceClient, n int) time.Duration {
	b.Helper()
	t0 := time.Now()
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	stream, err := client.Watch(ctx, &eventsv1.WatchRequest{})
	if err != nil {
		b.Fatal(err)
	}
	for got := 0; got < n; {
		resp, err := stream.Recv()
		if err != nil {
			b.Fatal(err)
		}
		for _, ev := range resp.GetEvents() {
			if _, err := ev.GetPayload().UnmarshalNew(); err != nil {
				b.Fatal(err)
			}
		}
		got += len(resp.GetEvents())
	}
	return time.Since(t0)
}

// fakeDistrict answers GetHeadline with fixed figures after delay.
type fakeDistrict struct {
	reportingv1.UnimplementedReportServiceServer
	delay time.Duration
}

func (f *fakeDistrict) GetHeadline(ctx context.Context, req *reportingv1.GetHeadlineRequest) (*reportingv1.GetHeadlineResponse, error) {
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &reportingv1.GetHeadlineResponse{RegionCode: req.GetRegionCode(), Figures: &reportingv1.Figures{
		PartnerGroups: 272, Partners: 2570, Projects: 90, MattersSolved: 377, ServiceSessions: 745, PeopleServed: 100000,
		DemandsByKind: []*reportingv1.Tally{{Key: "DEMAND_KIND_NEED", Value: 500}, {Key: "DEMAND_KIND_PROBLEM", Value: 300}},
	}}, nil
}

// BenchmarkCityRollup is the city's headline over 15 in-process fake districts through the
// city instance's gRPC API: all answering, and one hanging past the deadline (the call is
// then bounded by the deadline, 200ms here).
func BenchmarkCityRollup(b *testing.B) {
	for _, hang := range []bool{false, true} {
		b.Run(map[bool]string{false: "all-answer", true: "one-hangs"}[hang], func(b *testing.B) {
			signer, err := auth.LoadOrCreateDevKey(b.TempDir() + "/dev.pem")
			if err != nil {
				b.Fatal(err)
			}
			var districts []reporting.RollupDistrictConn
			for i := range 15 {
				delay := time.Duration(0)
				if hang && i == 7 {
					delay = time.Hour
				}
				addr := serveFake(b, func(s *grpc.Server) { reportingv1.RegisterReportServiceServer(s, &fakeDistrict{delay: delay}) })
				conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecureCreds()))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { conn.Close() })
				districts = append(districts, reporting.RollupDistrictConn{Name: fmt.Sprintf("区%02d", i), RegionCode: fmt.Sprintf("4501%02d", i), Conn: conn})
			}
			city, err := reporting.OpenRollup(reporting.RollupConfig{CityCode: "450100", Districts: districts, Deadline: 200 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			srv := assemblytest.Start(b, assemblytest.Config{Name: "reporting-city", Signer: signer, Tree: region.Demo(), Policies: reporting.Policies(), Register: city.Register})
			conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecureCreds()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			client := reportingv1.NewReportServiceClient(conn)
			ctx := tokenCtx(b, signer, auth.Principal{Subject: "bench-city", Roles: []auth.Role{auth.RoleSystem}, Scope: []string{"450100"}})
			var ds []time.Duration
			for b.Loop() {
				t0 := time.Now()
				resp, err := client.GetCityHeadline(ctx, &reportingv1.GetCityHeadlineRequest{Period: &reportingv1.Period{StartDate: "2025-01-01", EndDate: "2025-12-31"}})
				if err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
				if want := 15 - len(resp.GetMissing()); len(resp.GetDistricts()) != want || (hang && len(resp.GetMissing()) != 1) {
					b.Fatalf("districts %d, missing %v", len(resp.GetDistricts()), resp.GetMissing())
				}
			}
			p99(b, ds)
		})
	}
}

// BenchmarkFreshness measures, through the real services, the time from a write's commit (a
// demand recorded through demand's API) to the district's headline counting it, while writes
// arrive at JIAYUAN_BENCH_REPORTING_RATE a second (default 200) for
// JIAYUAN_BENCH_REPORTING_SECONDS (default 5). The writes are paced by the clock, not by the
// replies (an open loop: a slow reply does not slow the next write down), each by another
// resident, as residents' calls are rate-limited per caller. One reader reads the headline
// over and over meanwhile. The k-th write to commit is taken as seen by the first read that
// began after it committed and counted k of the writes: the feed delivers them in commit
// order, and the read's own time is included, so the figure errs long, never short. Reported:
// p99, the rate the writes achieved, how many the demand service refused (overloaded) and the
// p99 of the writes' own time (a saturated write path holds the feed back: on PostgreSQL an
// event is positioned only once every transaction begun before it has ended).
func BenchmarkFreshness(b *testing.B) {
	rate := benchInt("JIAYUAN_BENCH_REPORTING_RATE", 200)
	seconds := benchInt("JIAYUAN_BENCH_REPORTING_SECONDS", 5)
	for _, backend := range sqlstoretest.Backends(b) {
		b.Run(backend.Name, func(b *testing.B) {
			e := start(b, backend)
			var (
				ds       []time.Duration
				writeDs  []time.Duration // how long each write took, for telling a slow write path from a slow feed
				writeMu  sync.Mutex
				writes   int
				refused  int
				writeDur time.Duration
			)
			for round := 0; b.Loop(); round++ {
				n := rate * seconds
				// Every call may take long on a loaded machine: the contexts outlive the run.
				callCtx := func(p auth.Principal) context.Context {
					tok, err := e.signer.Token(p, time.Hour)
					if err != nil {
						b.Fatal(err)
					}
					ctx, cancel := context.WithTimeout(b.Context(), time.Duration(seconds)*time.Second+2*time.Minute)
					b.Cleanup(cancel)
					return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
				}
				officer := callCtx(auth.Principal{Subject: "bench-officer", Roles: []auth.Role{auth.RoleDistrictOfficer}, Scope: []string{district}})
				counted := func() (int64, error) {
					resp, err := e.reports.GetHeadline(officer, &reportingv1.GetHeadlineRequest{RegionCode: district, Period: thisYear()})
					return resp.GetFigures().GetDemands(), err
				}
				callers := make([]context.Context, n)
				for i := range callers {
					callers[i] = callCtx(auth.Principal{Subject: fmt.Sprintf("res-bench-%d-%d", round, i), Roles: []auth.Role{auth.RoleResident}, Scope: []string{erqiao}})
				}
				base, err := counted()
				if err != nil {
					b.Fatal(err)
				}

				// The reader: every read's start, end and count, until a read that began after
				// the last commit counts all n.
				type read struct {
					began, ended time.Time
					count        int64
				}
				var lastCommitUS atomic.Int64 // 0 until every write has committed
				// A write refused (the demand service overloaded) is counted, not waited for.
				var failed atomic.Int64
				reads := make(chan []read, 1)
				go func() {
					var rs []read
					deadline := time.Now().Add(time.Duration(seconds)*time.Second + time.Minute)
					for time.Now().Before(deadline) {
						r := read{began: time.Now()}
						c, err := counted()
						if err != nil {
							b.Error(err)
							break
						}
						r.count, r.ended = c-base, time.Now()
						rs = append(rs, r)
						if last := lastCommitUS.Load(); last != 0 && r.count >= int64(n)-failed.Load() && r.began.UnixMicro() > last {
							break
						}
					}
					reads <- rs
				}()

				commits := make(chan time.Time, n)
				began := time.Now()
				interval := time.Second / time.Duration(rate)
				for i := range n {
					time.Sleep(time.Until(began.Add(time.Duration(i) * interval)))
					go func() {
						issued := time.Now()
						_, err := e.demands.CreateDemand(callers[i], &demandv1.CreateDemandRequest{Demand: &demandv1.Demand{
							Kind: demandv1.DemandKind_DEMAND_KIND_NEED, Category: typev1.Category_CATEGORY_CHILDCARE, Channel: demandv1.Channel_CHANNEL_ONLINE,
							Title: "周三下午孩子无人照看", Description: "周三下午孩子无人照看，请社区帮忙。", CommunityCode: erqiao,
							Reporter: &demandv1.Reporter{Name: "覃秀兰", Phone: "13907710021"},
						}})
						if err != nil {
							failed.Add(1)
							b.Logf("write refused: %v", err)
							commits <- time.Time{}
							return
						}
						now := time.Now()
						writeMu.Lock()
						writeDs = append(writeDs, now.Sub(issued))
						writeMu.Unlock()
						commits <- now
					}()
				}
				var committed []time.Time
				for range n {
					if c := <-commits; !c.IsZero() {
						committed = append(committed, c)
					}
				}
				if len(committed) == 0 {
					b.Fatal("every write was refused")
				}
				refused += int(failed.Load())
				writeDur += time.Since(began)
				slices.SortFunc(committed, func(x, y time.Time) int { return x.Compare(y) })
				lastCommitUS.Store(committed[len(committed)-1].UnixMicro())
				writes += len(committed)
				rs := <-reads
				if b.Failed() || len(rs) == 0 || rs[len(rs)-1].count < int64(len(committed)) || rs[len(rs)-1].began.Before(committed[len(committed)-1]) {
					b.Fatalf("the headline did not count the writes\n%s", e.logs.String())
				}
				j := 0
				for k, c := range committed {
					for rs[j].count < int64(k+1) || rs[j].began.Before(c) {
						j++
					}
					ds = append(ds, rs[j].ended.Sub(c))
				}
			}
			b.ReportMetric(float64(writes)/writeDur.Seconds(), "writes/s")
			b.ReportMetric(float64(refused), "refused")
			if len(writeDs) > 0 {
				slices.Sort(writeDs)
				b.ReportMetric(float64(writeDs[len(writeDs)*99/100])/float64(time.Millisecond), "write-p99-ms")
			}
			p99(b, ds)
		})
	}
}
