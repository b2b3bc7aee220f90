package reporting_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// TestContractEventsAndUnknownTypes follows a contract feed (served here by a fake) whose moves
// and inactive-partner alerts are counted, and whose events of a type reporting does not count
// are skipped and counted, never fatal.
func TestContractEventsAndUnknownTypes(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			now := timestamppb.New(time.Now())
			ev := func(cursor int64, region string, m proto.Message) *eventsv1.Event {
				payload, err := anypb.New(m)
				if err != nil {
					t.Fatal(err)
				}
				typ := string(proto.MessageName(m))
				return &eventsv1.Event{Cursor: cursor, Id: fmt.Sprintf("%s-%d", typ, cursor), Type: typ, Subject: "contracts/x", RegionCode: region, Time: now, Payload: payload}
			}
			moved := func(region string, from, to contractv1.ContractStatus) *contractv1.ContractStatusChanged {
				return &contractv1.ContractStatusChanged{Contract: &contractv1.Contract{CommunityCode: region}, FromStatus: from, ToStatus: to}
			}
			alert := func(region string, kind contractv1.AlertKind) *contractv1.AlertRaised {
				return &contractv1.AlertRaised{CommunityCode: region, Alert: &contractv1.Alert{Kind: kind}}
			}
			const (
				awaiting  = contractv1.ContractStatus_CONTRACT_STATUS_AWAITING_SIGNATURES
				active    = contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE
				fulfilled = contractv1.ContractStatus_CONTRACT_STATUS_FULFILLED
				breached  = contractv1.ContractStatus_CONTRACT_STATUS_BREACHED
			)
			feed := &fakeFeed{events: []*eventsv1.Event{
				ev(1, "450105001001", moved("450105001001", awaiting, active)),
				ev(2, "450105001001", moved("450105001001", awaiting, active)),
				ev(3, "450105003001", moved("450105003001", awaiting, active)),
				ev(4, "450105001001", moved("450105001001", active, fulfilled)),
				ev(5, "450105003001", moved("450105003001", active, breached)),
				ev(6, "450105001001", alert("450105001001", contractv1.AlertKind_ALERT_KIND_PARTNER_INACTIVE)),
				// A duty's alert is the parties' business: no figure counts it.
				ev(7, "450105001001", alert("450105001001", contractv1.AlertKind_ALERT_KIND_DUTY_OVERDUE)),
				ev(8, "450105001001", &contractv1.ContractAmended{}),
				ev(9, "450105001001", &contractv1.ContractAmended{}),
			}}
			addr := serveFakeT(t, func(s *grpc.Server) { eventsv1.RegisterEventFeedServiceServer(s, feed) })
			conn := assemblytest.Dial(t, addr)
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
			for svc.Cursors()[reporting.SourceContract] < 9 {
				if time.Now().After(deadline) {
					t.Fatalf("cursor %v", svc.Cursors())
				}
				time.Sleep(20 * time.Millisecond)
			}
			e := &env{t: t, signer: signer}
			client := reportingv1.NewReportServiceClient(assemblytest.Dial(t, srv.Addr))
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
