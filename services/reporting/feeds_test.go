package reporting_test

import (
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// TestContractEventsAndUnknownTypes follows a contract feed (served here by a fake: the
// contract service is built apart) whose events are counted by their type names, and whose
// events of a type this build does not know are skipped and counted, never fatal.
func TestContractEventsAndUnknownTypes(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			now := timestamppb.New(time.Now())
			empty, err := anypb.New(&emptypb.Empty{})
			if err != nil {
				t.Fatal(err)
			}
			ev := func(cursor int64, typ, region string) *eventsv1.Event {
				// The payload's own type is unknown to this build; only the envelope counts.
				payload := &anypb.Any{TypeUrl: "type.googleapis.com/" + typ, Value: empty.GetValue()}
				return &eventsv1.Event{Cursor: cursor, Id: typ + string(rune('a'+cursor)), Type: typ, Subject: "contracts/x", RegionCode: region, Time: now, Payload: payload}
			}
			feed := &fakeFeed{events: []*eventsv1.Event{
				ev(1, "jiayuan.contract.v1.ContractActivated", "450105001001"),
				ev(2, "jiayuan.contract.v1.ContractActivated", "450105001001"),
				ev(3, "jiayuan.contract.v1.ContractActivated", "450105003001"),
				ev(4, "jiayuan.contract.v1.ContractFulfilled", "450105001001"),
				ev(5, "jiayuan.contract.v1.ContractBreached", "450105003001"),
				ev(6, "jiayuan.contract.v1.InactivePartnerAlert", "450105001001"),
				ev(7, "jiayuan.contract.v1.ContractAmended", "450105001001"),
				ev(8, "jiayuan.contract.v1.ContractAmended", "450105001001"),
			}}
			addr := serveFakeT(t, func(s *grpc.Server) { eventsv1.RegisterEventFeedServiceServer(s, feed) })
			conn := dial(t, addr)
			db := sqlstoretest.OpenURL(t, b.NewURL(t))
			svc, err := reporting.Open(t.Context(), reporting.Config{DB: db, Tree: region.Demo(),
				Sources: map[string]grpc.ClientConnInterface{reporting.SourceContract: conn}})
			if err != nil {
				t.Fatal(err)
			}
			signer, err := auth.LoadOrCreateDevKey(t.TempDir() + "/dev.pem")
			if err != nil {
				t.Fatal(err)
			}
			srv := assemblytest.Start(t, assemblytest.Config{Name: reporting.Name, Signer: signer, Tree: region.Demo(), Policies: reporting.Policies(), Register: svc.Register})
			runUntilStopped(t, "reporting.Run", svc.Run)
			deadline := time.Now().Add(20 * time.Second)
			for svc.Cursors()[reporting.SourceContract] < 8 {
				if time.Now().After(deadline) {
					t.Fatalf("cursor %v", svc.Cursors())
				}
				time.Sleep(20 * time.Millisecond)
			}
			e := &env{t: t, signer: signer}
			client := reportingv1.NewReportServiceClient(dial(t, srv.Addr))
			resp, err := client.GetHeadline(e.districtOfficer(), &reportingv1.GetHeadlineRequest{RegionCode: district, Period: thisYear()})
			if err != nil {
				t.Fatal(err)
			}
			f := resp.GetFigures()
			if f.GetContractsActive() != 1 || f.GetContractsFulfilled() != 1 || f.GetContractsBreached() != 1 || f.GetInactivePartnerAlerts() != 1 {
				t.Errorf("contracts: active %d, fulfilled %d, breached %d, alerts %d", f.GetContractsActive(), f.GetContractsFulfilled(), f.GetContractsBreached(), f.GetInactivePartnerAlerts())
			}
			status, err := client.GetReportStatus(e.admin(), &reportingv1.GetReportStatusRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(status.GetSkipped()) != 1 || status.GetSkipped()[0].GetType() != "jiayuan.contract.v1.ContractAmended" || status.GetSkipped()[0].GetCount() != 2 {
				t.Errorf("skipped %v", status.GetSkipped())
			}
		})
	}
}

// serveFakeT is serveFake for tests.
func serveFakeT(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	register(srv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}
