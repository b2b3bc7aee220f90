package demand_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/jiayuan/jiayuan/gen/jiayuan/audit/v1"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/audit/audittest"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// auditRows returns the service's audit records in insert order, each as
// "kind subject method resource region outcome paths detail", method without its service.
func (e *env) auditRows() []string {
	e.t.Helper()
	// Reads' records are queued and written in batches (audit.Trail.Flush); write them now.
	if err := e.trail.Flush(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	rows, err := e.db.Query(e.t.Context(), `SELECT kind, subject, method, resource, region_code, outcome, paths, detail
		FROM audit_records ORDER BY seq`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, subject, method, resource, region, outcome, paths, detail string
		if err := rows.Scan(&kind, &subject, &method, &resource, &region, &outcome, &paths, &detail); err != nil {
			e.t.Fatal(err)
		}
		method = method[strings.LastIndex(method, "/")+1:]
		out = append(out, strings.Join([]string{kind, subject, method, resource, region, outcome, paths, detail}, " "))
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestAuditRecords: every write, refusal and unmasked read of personal data over gRPC leaves a
// record in the service's database, in order, and the records chain and verify.
func TestAuditRecords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staff()
		staffSubject := "test-community_staff@" + erqiao
		d := e.createDemand(staff, needOf("周三下午托管"))
		name := d.GetName()

		// An update names the fields it changed.
		_, err := e.client.UpdateDemand(staff, &demandv1.UpdateDemandRequest{
			Demand:     &demandv1.Demand{Name: name, Title: "周三下午及傍晚托管", Etag: d.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		// Another community's staff: the demand is out of scope, NOT_FOUND, and recorded.
		_, err = e.client.UpdateDemand(e.as(auth.RoleCommunityStaff, fujing), &demandv1.UpdateDemandRequest{
			Demand: &demandv1.Demand{Name: name, Title: "改"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		})
		apierrtest.WantCode(t, err, codes.NotFound)
		// A read of it out of scope is recorded the same way.
		_, err = e.client.GetDemand(e.as(auth.RoleCommunityStaff, fujing), &demandv1.GetDemandRequest{Name: name})
		apierrtest.WantCode(t, err, codes.NotFound)
		if _, err := e.client.ChangeDemandStatus(staff, &demandv1.ChangeDemandStatusRequest{
			Name: name, Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: "已受理"}); err != nil {
			t.Fatal(err)
		}
		// A grid worker may not resolve: PERMISSION_DENIED, recorded with the demand's region.
		_, err = e.client.ChangeDemandStatus(e.as(auth.RoleGridWorker, erqiaoG1), &demandv1.ChangeDemandStatusRequest{
			Name: name, Status: demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, Reply: "已解决"})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		// The refused write left no write record: its transaction rolled back with it.
		e.getDemand(staff, name)
		// A resident may not call UpdateDemand at all: the interceptor refuses, and the trail
		// records who tried, in the region of their scope.
		_, err = e.client.UpdateDemand(e.as(auth.RoleResident, erqiao), &demandv1.UpdateDemandRequest{
			Demand: &demandv1.Demand{Name: name, Title: "改一下"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		apierrtest.WantCode(t, err, codes.PermissionDenied)

		create := "CreateDemand"
		// Reads carry the region of what they showed, so the community's auditors see them.
		want := []string{
			fmt.Sprintf("write %s %s %s %s OK  ", staffSubject, create, name, erqiao),
			fmt.Sprintf("read_personal %s %s %s %s OK  reporter", staffSubject, create, name, erqiao),
			fmt.Sprintf("write %s UpdateDemand %s %s OK title ", staffSubject, name, erqiao),
			fmt.Sprintf("read_personal %s UpdateDemand %s %s OK  reporter", staffSubject, name, erqiao),
			fmt.Sprintf("refused test-community_staff@%s UpdateDemand %s  NOT_FOUND  ", fujing, name),
			fmt.Sprintf("refused test-community_staff@%s GetDemand %s  NOT_FOUND  ", fujing, name),
			fmt.Sprintf("write %s ChangeDemandStatus %s %s OK status ", staffSubject, name, erqiao),
			fmt.Sprintf("read_personal %s ChangeDemandStatus %s %s OK  reporter", staffSubject, name, erqiao),
			fmt.Sprintf("refused test-grid_worker@%s ChangeDemandStatus %s %s PERMISSION_DENIED  ", erqiaoG1, name, erqiao),
			fmt.Sprintf("read_personal %s GetDemand %s %s OK  reporter", staffSubject, name, erqiao),
			fmt.Sprintf("refused test-resident@%s UpdateDemand  %s PERMISSION_DENIED  ", erqiao, erqiao),
		}
		got := e.auditRows()
		// Writes and refusals are in the order made; reads' records are written in batches
		// after them, so the trail is compared as a set.
		slices.Sort(got)
		slices.Sort(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("audit records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if strings.Contains(e.logs.String(), `"msg":"audit"`) {
			t.Error("with the trail on, an audit act was also written as a log line")
		}

		audittest.ChainAll(t, e.db)
		n, problem, err := audit.Verify(t.Context(), e.db)
		if err != nil || problem != nil || n != int64(len(want)) {
			t.Fatalf("verify: %d checked, %v, %v; want %d", n, problem, err, len(want))
		}

		// An auditor reads the trail over gRPC, scoped by region.
		client := auditv1.NewAuditServiceClient(assemblytest.Dial(t, e.srv.Addr))
		list := func(ctx context.Context, req *auditv1.ListAuditRecordsRequest) ([]string, error) {
			req.Parent = "services/demand"
			var out []string
			for {
				resp, err := client.ListAuditRecords(ctx, req)
				if err != nil {
					return nil, err
				}
				for _, r := range resp.GetAuditRecords() {
					if r.GetPosition() == 0 || len(r.GetHash()) != 64 || !strings.HasPrefix(r.GetName(), "services/demand/auditRecords/") {
						t.Errorf("record not chained or misnamed: %v", r)
					}
					out = append(out, fmt.Sprintf("%s %s %s", r.GetKind(), r.GetSubject(), r.GetOutcome()))
				}
				if resp.GetNextPageToken() == "" {
					return out, nil
				}
				req.PageToken = resp.GetNextPageToken()
			}
		}
		for _, tt := range []struct {
			name  string
			scope string
			req   *auditv1.ListAuditRecordsRequest
			want  int
		}{
			// The district's auditor sees everything, the refusal of no known region too.
			{"district, pages of 2", district, &auditv1.ListAuditRecordsRequest{PageSize: 2}, len(want)},
			// 二桥西's auditor: the writes, the reads and the refusal about its demand, not the
			// out-of-scope attempts (records of no known region: the name was not found).
			{"community", erqiao, &auditv1.ListAuditRecordsRequest{}, 9},
			{"another community", fujing, &auditv1.ListAuditRecordsRequest{}, 0},
			{"refusals", district, &auditv1.ListAuditRecordsRequest{Outcome: "PERMISSION_DENIED"}, 2},
			{"one subject's", district, &auditv1.ListAuditRecordsRequest{Subject: staffSubject, Method: "/jiayuan.demand.v1.DemandService/UpdateDemand"}, 2},
			{"a future range", district, &auditv1.ListAuditRecordsRequest{StartTime: timestamppb.New(time.Now().Add(time.Hour))}, 0},
		} {
			got, err := list(e.as(auth.RoleAuditor, tt.scope), tt.req)
			if err != nil || len(got) != tt.want {
				t.Errorf("%s: %d records (%v), want %d: %v", tt.name, len(got), err, tt.want, got)
			}
		}
		// A list's read is one record naming every demand shown; the resource filter finds it
		// by any one of them.
		other := e.createDemand(staff, needOf("周六上午托管"))
		if _, err := e.client.ListDemands(staff, &demandv1.ListDemandsRequest{}); err != nil {
			t.Fatal(err)
		}
		if err := e.trail.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		audittest.ChainAll(t, e.db)
		for _, n := range []string{name, other.GetName()} {
			got, err := list(e.as(auth.RoleAuditor, district), &auditv1.ListAuditRecordsRequest{Resource: n, Method: "/jiayuan.demand.v1.DemandService/ListDemands"})
			if err != nil || len(got) != 1 {
				t.Errorf("the list's read, found by %s: %v (%v), want one record", n, got, err)
			}
		}

		// Nobody else reads it, not even an admin; and a page token is tied to its query.
		_, err = list(e.admin(), &auditv1.ListAuditRecordsRequest{})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		first, err := client.ListAuditRecords(e.as(auth.RoleAuditor, district), &auditv1.ListAuditRecordsRequest{Parent: "services/demand", PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.ListAuditRecords(e.as(auth.RoleAuditor, district), &auditv1.ListAuditRecordsRequest{
			Parent: "services/demand", PageSize: 1, Outcome: "OK", PageToken: first.GetNextPageToken()})
		apierrtest.WantField(t, err, "page_token")
		_, err = client.ListAuditRecords(e.as(auth.RoleAuditor, district), &auditv1.ListAuditRecordsRequest{Parent: "services/partner"})
		apierrtest.WantCode(t, err, codes.NotFound)
	})
}
