package contract_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// day is a civil date.
func day(y, m, d int32) *date.Date { return &date.Date{Year: y, Month: m, Day: d} }

// careTerms are the Wednesday care terms between 二桥西 and partners p1 and p2, from
// 2026-12-02 to 2027-03-31.
func careTerms(p1, p2 string) *contractv1.Terms {
	return &contractv1.Terms{
		Content: "周三下午四点半课堂：放学后托管与作业辅导，地点二桥西社区活动室", StartDate: day(2026, 12, 2), EndDate: day(2027, 3, 31),
		Duties: []*contractv1.Duty{
			{Owner: "community", Description: "提供活动室并通知家长", When: &contractv1.Duty_DueDate{DueDate: day(2026, 12, 8)}},
			{Owner: p1, Description: "每周三下午托管", When: &contractv1.Duty_Weekly{Weekly: wed("15:00", "18:00")}},
			{Owner: p2, Description: "每周三下午作业辅导", When: &contractv1.Duty_Weekly{Weekly: wed("15:00", "18:00")}},
		},
		Milestones: []*contractv1.Milestone{{Title: "首次课堂开课", DueDate: day(2026, 12, 9)}},
		ExpectedResults: []*contractv1.ExpectedResult{{
			Description: "每周服务儿童", TargetValue: 20, Unit: "人", Measure: contractv1.ResultMeasure_RESULT_MEASURE_PEOPLE_SERVED,
			Cadence: contractv1.ResultCadence_RESULT_CADENCE_WEEKLY,
		}},
	}
}

func newPartner() string { return "partnerGroups/" + aip.NewID() }

// newParty registers a partner group that can be a party to a contract: the service
// resolves every partner a contract names.
func (e *env) newParty() string {
	e.t.Helper()
	e.groups++
	return e.seedGroup(careGroup(fmt.Sprintf("二桥西社区志愿队%d", e.groups)))
}

// createReq is a hand-drafted care contract with p1 and p2 for the env's approved project
// (made at the first call: the service resolves the project a contract names).
func (e *env) createReq(p1, p2 string) *contractv1.CreateContractRequest {
	e.t.Helper()
	if e.draftProject == "" {
		e.draftProject = e.project("周三下午四点半课堂").GetName()
	}
	return &contractv1.CreateContractRequest{
		Contract: &contractv1.Contract{Project: e.draftProject, CommunityCode: erqiao, Title: "周三下午四点半课堂",
			ListType: demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN},
		Partners: []string{p1, p2}, Terms: careTerms(p1, p2),
	}
}

// active creates the care contract with p1 and p2 and has every party sign it.
func (e *env) active(p1, p2 string) *contractv1.Contract {
	e.t.Helper()
	resp, err := e.contracts.CreateContract(e.staff(erqiao), e.createReq(p1, p2))
	if err != nil {
		e.t.Fatal(err)
	}
	c := resp.GetContract()
	sresp, err := e.contracts.SubmitContract(e.staff(erqiao), &contractv1.SubmitContractRequest{Name: c.GetName(), Etag: c.GetEtag()})
	if err != nil {
		e.t.Fatal(err)
	}
	c = sresp.GetContract()
	for _, p := range []string{"community", p1, p2} {
		ctx := e.signer(p)
		r, err := e.contracts.SignContract(ctx, &contractv1.SignContractRequest{Name: c.GetName(), Version: 1, Party: p})
		if err != nil {
			e.t.Fatalf("sign for %s: %v", p, err)
		}
		c = r.GetContract()
	}
	if c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE || c.GetInForceVersion() != 1 {
		e.t.Fatalf("after every signature: %v, in force %d", c.GetStatus(), c.GetInForceVersion())
	}
	return c
}

func TestSigningAndScope(t *testing.T) {
	forEachBackend(t, cst(2026, 12, 2, 10, 0), func(t *testing.T, e *env) {
		p1, p2, stranger := e.newParty(), e.newParty(), e.newParty()
		resp, err := e.contracts.CreateContract(e.staff(erqiao), e.createReq(p1, p2))
		if err != nil {
			t.Fatal(err)
		}
		c := resp.GetContract()
		if c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_DRAFT || len(c.GetParties()) != 3 || c.GetParties()[0].GetParty() != "community" {
			t.Fatalf("draft %v", c)
		}
		if ids := c.GetVersions()[0].GetTerms().GetDuties(); ids[0].GetId() != "d1" || ids[2].GetId() != "d3" {
			t.Fatalf("duty ids %v", ids)
		}
		// A draft is not signed before it is sent.
		_, err = e.contracts.SignContract(e.staff(erqiao), &contractv1.SignContractRequest{Name: c.GetName(), Version: 1, Party: "community"})
		wantCode(t, err, codes.FailedPrecondition, "draft")
		sresp, err := e.contracts.SubmitContract(e.staff(erqiao), &contractv1.SubmitContractRequest{Name: c.GetName(), Etag: c.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		// A stale etag is refused.
		_, err = e.contracts.SubmitContract(e.staff(erqiao), &contractv1.SubmitContractRequest{Name: c.GetName(), Etag: c.GetEtag()})
		wantCode(t, err, codes.Aborted, "")
		c = sresp.GetContract()

		for _, tc := range []struct {
			name  string
			party string
			code  codes.Code
			field string
		}{
			{"a partner's user for the community", "community", codes.PermissionDenied, ""},
			{"a partner's user for another partner", p2, codes.PermissionDenied, ""},
			{"a partner not a party", stranger, codes.NotFound, ""},
			{"staff of another community", "community", codes.NotFound, ""},
			{"a superseded or missing version", "community", codes.InvalidArgument, "version"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := &contractv1.SignContractRequest{Name: c.GetName(), Version: 1, Party: tc.party}
				ctx := e.partnerUser(p1)
				switch tc.name {
				case "a partner not a party":
					ctx = e.partnerUser(stranger)
				case "staff of another community":
					ctx = e.staff(peihong)
				case "a superseded or missing version":
					ctx, req.Version = e.staff(erqiao), 2
				}
				_, err := e.contracts.SignContract(ctx, req)
				wantCode(t, err, tc.code, tc.field)
			})
		}
		// Nothing was signed by the refusals.
		if got := e.get(c.GetName()); len(got.GetVersions()[0].GetSignatures()) != 0 {
			t.Fatalf("signatures after refusals: %v", got.GetVersions()[0].GetSignatures())
		}
		if _, err := e.contracts.SignContract(e.staff(erqiao), &contractv1.SignContractRequest{Name: c.GetName(), Version: 1, Party: "community"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.contracts.SignContract(e.staff(erqiao), &contractv1.SignContractRequest{Name: c.GetName(), Version: 1, Party: "community"})
		wantCode(t, err, codes.InvalidArgument, "party")

		// Out of region reads are not found; a partner reads its own contracts only.
		for _, ctx := range []contextT{e.staff(fujing), e.as(auth.RoleStreetOfficer, nahong), e.partnerUser(stranger)} {
			_, err := e.contracts.GetContract(ctx, &contractv1.GetContractRequest{Name: c.GetName()})
			wantCode(t, err, codes.NotFound, "")
		}
		if _, err := e.contracts.GetContract(e.partnerUser(p2), &contractv1.GetContractRequest{Name: c.GetName()}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			ctx  contextT
			want int
		}{{e.staff(fujing), 0}, {e.partnerUser(stranger), 0}, {e.partnerUser(p1), 1}, {e.as(auth.RoleStreetOfficer, jiangnan), 1}} {
			l, err := e.contracts.ListContracts(tc.ctx, &contractv1.ListContractsRequest{})
			if err != nil || len(l.GetContracts()) != tc.want {
				t.Fatalf("list: %d contracts, %v; want %d", len(l.GetContracts()), err, tc.want)
			}
		}
	})
}

func TestBadInput(t *testing.T) {
	forEachBackend(t, cst(2026, 12, 2, 10, 0), func(t *testing.T, e *env) {
		p1, p2 := e.newParty(), e.newParty()
		for _, tc := range []struct {
			name, field string
			edit        func(r *contractv1.CreateContractRequest)
		}{
			{"a duty owned by someone not a party", "terms.duties[1].owner", func(r *contractv1.CreateContractRequest) {
				r.Terms.Duties[1].Owner = newPartner()
			}},
			{"a due date outside the period", "terms.duties[0].due_date", func(r *contractv1.CreateContractRequest) {
				r.Terms.Duties[0].When = &contractv1.Duty_DueDate{DueDate: day(2027, 4, 1)}
			}},
			{"a milestone outside the period", "terms.milestones[0].due_date", func(r *contractv1.CreateContractRequest) {
				r.Terms.Milestones[0].DueDate = day(2026, 11, 30)
			}},
			{"a target without a unit", "unit", func(r *contractv1.CreateContractRequest) { r.Terms.ExpectedResults[0].Unit = "" }},
			{"an end before the start", "terms.end_date", func(r *contractv1.CreateContractRequest) { r.Terms.EndDate = day(2026, 12, 1) }},
			{"a community outside the district", "contract.community_code", func(r *contractv1.CreateContractRequest) { r.Contract.CommunityCode = "450105009009" }},
			{"a duty with no date or recurrence", "when", func(r *contractv1.CreateContractRequest) { r.Terms.Duties[0].When = nil }},
			{"a project that does not exist", "contract.project", func(r *contractv1.CreateContractRequest) { r.Contract.Project = "projects/" + aip.NewID() }},
			{"a partner that does not exist", "partners[1]", func(r *contractv1.CreateContractRequest) { r.Partners[1] = newPartner() }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.createReq(p1, p2)
				tc.edit(r)
				ctx := e.staff(erqiao)
				if tc.field == "contract.community_code" {
					ctx = e.admin()
				}
				_, err := e.contracts.CreateContract(ctx, r)
				wantCode(t, err, codes.InvalidArgument, tc.field)
			})
		}
		l, err := e.contracts.ListContracts(e.admin(), &contractv1.ListContractsRequest{})
		if err != nil || len(l.GetContracts()) != 0 {
			t.Fatalf("after refusals: %d contracts, %v", len(l.GetContracts()), err)
		}
		// A partner's user may not draft.
		_, err = e.contracts.CreateContract(e.partnerUser(p1), e.createReq(p1, p2))
		wantCode(t, err, codes.PermissionDenied, "")
		// Another community's staff may not draft for 二桥西: its project does not exist for them.
		_, err = e.contracts.CreateContract(e.staff(fujing), e.createReq(p1, p2))
		wantCode(t, err, codes.InvalidArgument, "contract.project")
		if strings.Contains(err.Error(), erqiao) {
			t.Fatalf("the refusal names the community the caller does not see: %v", err)
		}
		// A replayed request id returns the first contract.
		r := e.createReq(p1, p2)
		r.RequestId = "0f8fad5b-d9cb-469f-a165-70867728950e"
		a, err := e.contracts.CreateContract(e.staff(erqiao), r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.contracts.CreateContract(e.staff(erqiao), proto.Clone(r).(*contractv1.CreateContractRequest))
		if err != nil || b.GetContract().GetName() != a.GetContract().GetName() {
			t.Fatalf("replay: %v, %v", b.GetContract().GetName(), err)
		}
	})
}

func TestAmendment(t *testing.T) {
	forEachBackend(t, cst(2026, 12, 2, 10, 0), func(t *testing.T, e *env) {
		p1, p2 := e.newParty(), e.newParty()
		c := e.active(p1, p2)
		terms := careTerms(p1, p2)
		terms.ExpectedResults[0].TargetValue = 25
		_, err := e.contracts.AmendContract(e.staff(erqiao), &contractv1.AmendContractRequest{Name: c.GetName(), Terms: terms, Etag: c.GetEtag()})
		wantCode(t, err, codes.InvalidArgument, "reason")
		r, err := e.contracts.AmendContract(e.staff(erqiao), &contractv1.AmendContractRequest{Name: c.GetName(), Terms: terms, Reason: "报名儿童增加到25人", Etag: c.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		c = r.GetContract()
		if len(c.GetVersions()) != 2 || c.GetInForceVersion() != 1 || c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE ||
			c.GetVersions()[1].GetState() != contractv1.VersionState_VERSION_STATE_PENDING ||
			c.GetVersions()[0].GetState() != contractv1.VersionState_VERSION_STATE_IN_FORCE {
			t.Fatalf("after the amendment: %v", c)
		}
		// Version 1 stays in force: signing it again is refused, naming the version.
		_, err = e.contracts.SignContract(e.partnerUser(p1), &contractv1.SignContractRequest{Name: c.GetName(), Version: 1, Party: p1})
		wantCode(t, err, codes.InvalidArgument, "version")
		for _, p := range []string{"community", p1, p2} {
			ctx := e.signer(p)
			if _, err := e.contracts.SignContract(ctx, &contractv1.SignContractRequest{Name: c.GetName(), Version: 2, Party: p}); err != nil {
				t.Fatal(err)
			}
		}
		c = e.get(c.GetName())
		if c.GetInForceVersion() != 2 || c.GetVersions()[0].GetState() != contractv1.VersionState_VERSION_STATE_SUPERSEDED ||
			c.GetVersions()[0].GetTerms().GetExpectedResults()[0].GetTargetValue() != 20 {
			t.Fatalf("after signing version 2: %v", c)
		}
		// Terminated, it can no longer be amended.
		tr, err := e.contracts.TerminateContract(e.staff(erqiao), &contractv1.TerminateContractRequest{Name: c.GetName(), Reason: "合伙人退出", Etag: c.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.contracts.AmendContract(e.staff(erqiao), &contractv1.AmendContractRequest{Name: c.GetName(), Terms: terms, Reason: "x", Etag: tr.GetContract().GetEtag()})
		wantCode(t, err, codes.FailedPrecondition, "")
	})
}

func TestFulfilmentAndInactivePartner(t *testing.T) {
	forEachBackend(t, cst(2026, 12, 2, 10, 0), func(t *testing.T, e *env) {
		p1, p2 := e.newParty(), e.newParty()
		c := e.active(p1, p2)
		// A date in the future, a duty of another party, a stranger recording: refused.
		for _, tc := range []struct {
			name  string
			party string
			f     *contractv1.Fulfilment
			code  codes.Code
			field string
		}{
			{"a future date", p1, &contractv1.Fulfilment{DutyId: "d2", Date: day(2026, 12, 9), Party: p1}, codes.InvalidArgument, "fulfilment.date"},
			{"another party's duty", p1, &contractv1.Fulfilment{DutyId: "d3", Date: day(2026, 12, 2), Party: p1}, codes.InvalidArgument, "fulfilment.duty_id"},
			{"for another partner", p1, &contractv1.Fulfilment{DutyId: "d3", Date: day(2026, 12, 2), Party: p2}, codes.PermissionDenied, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.contracts.RecordFulfilment(e.partnerUser(tc.party), &contractv1.RecordFulfilmentRequest{Parent: c.GetName(), Fulfilment: tc.f})
				wantCode(t, err, tc.code, tc.field)
			})
		}
		l, err := e.contracts.ListFulfilments(e.admin(), &contractv1.ListFulfilmentsRequest{Parent: c.GetName()})
		if err != nil || len(l.GetFulfilments()) != 0 {
			t.Fatalf("after refusals: %v, %v", l.GetFulfilments(), err)
		}
		// p1 serves on Wednesday 2 December; p2 records nothing.
		if _, err := e.contracts.RecordFulfilment(e.partnerUser(p1), &contractv1.RecordFulfilmentRequest{Parent: c.GetName(),
			Fulfilment: &contractv1.Fulfilment{DutyId: "d2", Date: day(2026, 12, 2), Party: p1, PeopleServed: 18}}); err != nil {
			t.Fatal(err)
		}
		// Sixteen days later (past the 14 inactive days for p2; p1 was active on the 2nd too,
		// so both are inactive by the 17th).
		e.clock.Set(cst(2026, 12, 17, 9, 0))
		for range 3 {
			if _, err := e.svc.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		alerts, err := e.contracts.ListContractAlerts(e.staff(erqiao), &contractv1.ListContractAlertsRequest{Parent: c.GetName(), PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		count := map[contractv1.AlertKind]int{}
		inactive := map[string]int{}
		for _, a := range alerts.GetAlerts() {
			count[a.GetKind()]++
			if a.GetKind() == contractv1.AlertKind_ALERT_KIND_PARTNER_INACTIVE {
				inactive[a.GetParty()]++
			}
		}
		// p2 missed 2, 9 and 16 December (overdue 3 times), p1 missed 9 and 16; the community's
		// room duty (8 December) is overdue and was due soon; the first session milestone missed.
		if inactive[p1] != 1 || inactive[p2] != 1 || count[contractv1.AlertKind_ALERT_KIND_DUTY_OVERDUE] != 6 ||
			count[contractv1.AlertKind_ALERT_KIND_DUTY_DUE_SOON] != 1 || count[contractv1.AlertKind_ALERT_KIND_MILESTONE_MISSED] != 1 {
			t.Fatalf("alerts: %v, inactive %v", count, inactive)
		}
		if got := e.get(c.GetName()); got.GetAlertCount() != int32(len(alerts.GetAlerts())) {
			t.Fatalf("alert_count %d, %d alerts", got.GetAlertCount(), len(alerts.GetAlerts()))
		}
	})
}

type contextT = context.Context

// signer is who signs for party: 二桥西's staff for the community, else the partner's user.
func (e *env) signer(party string) contextT {
	if party == "community" {
		return e.staff(erqiao)
	}
	return e.partnerUser(party)
}
