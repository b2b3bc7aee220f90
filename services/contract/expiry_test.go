package contract_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
)

// signedProject is a Wednesday care project of 二桥西 matched to partner, its contract
// (December 2026) signed by every party, the project CONTRACTED.
func (e *env) signedProject(title, partner string) (*demandv1.Project, *contractv1.Contract) {
	e.t.Helper()
	staff := e.staff(erqiao)
	p := e.project(title)
	if _, err := e.demands.AcceptMatch(staff, &demandv1.AcceptMatchRequest{Name: p.GetName(), Partners: []string{partner}, Etag: p.GetEtag()}); err != nil {
		e.t.Fatal(err)
	}
	c := e.draftOf(p.GetName())
	terms := c.GetVersions()[0].GetTerms()
	terms.EndDate = day(2026, 12, 30)
	r, err := e.contracts.AmendContract(staff, &contractv1.AmendContractRequest{Name: c.GetName(), Terms: terms, Etag: c.GetEtag()})
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := e.contracts.SubmitContract(staff, &contractv1.SubmitContractRequest{Name: c.GetName(), Etag: r.GetContract().GetEtag()})
	if err != nil {
		e.t.Fatal(err)
	}
	e.signAll(s.GetContract())
	e.eventually(title+" CONTRACTED", func() bool { return e.projectStatus(p.GetName()) == demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED })
	return e.getProject(p.GetName()), e.get(c.GetName())
}

// signAll signs c's version waiting for signatures for every party.
func (e *env) signAll(c *contractv1.Contract) {
	e.t.Helper()
	v := c.GetVersions()[len(c.GetVersions())-1].GetNumber()
	for _, party := range c.GetParties() {
		if _, err := e.contracts.SignContract(e.signer(party.GetParty()), &contractv1.SignContractRequest{Name: c.GetName(), Version: v, Party: party.GetParty()}); err != nil {
			e.t.Fatalf("%s signs %s: %v", party.GetParty(), c.GetName(), err)
		}
	}
}

func (e *env) getProject(name string) *demandv1.Project {
	e.t.Helper()
	resp, err := e.demands.GetProject(e.staff(erqiao), &demandv1.GetProjectRequest{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.GetProject()
}

// timeline is what the residents of demand d read: its timeline's messages, oldest first.
func (e *env) timeline(d string) []string {
	e.t.Helper()
	resp, err := e.demands.ListTimelineEntries(e.staff(erqiao), &demandv1.ListTimelineEntriesRequest{Parent: d, PageSize: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, en := range resp.GetEntries() {
		out = append(out, en.GetMessage())
	}
	return out
}

// timelines are the timelines of every demand of projects, by demand.
func (e *env) timelines(projects ...*demandv1.Project) map[string][]string {
	out := map[string][]string{}
	for _, p := range projects {
		for _, d := range p.GetDemands() {
			out[d] = e.timeline(d)
		}
	}
	return out
}

func count(msgs []string, part string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m, part) {
			n++
		}
	}
	return n
}

// TestExpiredContract: a contract past its end date is expired by the sweeper, and its project
// asks the community to renew or close (CONTRACT_EXPIRED), its residents told; one project is
// renewed (CONTRACTED again once every party signed the successor), the other closed by hand
// with a reason; a second sweep and demand reading the contract feed again from its start
// double nothing.
func TestExpiredContract(t *testing.T) {
	forEachBackend(t, cst(2026, 12, 2, 9, 0), func(t *testing.T, e *env) {
		stopDemand := e.runDemand()
		staff := e.staff(erqiao)
		g := e.seedGroup(careGroup("二桥西社区家长志愿者队"))
		renewed, first := e.signedProject("周三下午四点半课堂", g)
		closed, other := e.signedProject("周三下午读绘本", g)

		// The end date passes: the sweeper expires both contracts.
		e.clock.Set(cst(2026, 12, 31, 9, 0))
		if _, err := e.svc.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*contractv1.Contract{first, other} {
			if st := e.get(c.GetName()).GetStatus(); st != contractv1.ContractStatus_CONTRACT_STATUS_EXPIRED {
				t.Fatalf("%s after its end: %v", c.GetName(), st)
			}
		}
		for _, p := range []*demandv1.Project{renewed, closed} {
			e.eventually(p.GetTitle()+" CONTRACT_EXPIRED", func() bool {
				return e.projectStatus(p.GetName()) == demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_EXPIRED
			})
		}
		// The community's staff find the projects awaiting their decision in their list.
		l, err := e.demands.ListProjects(staff, &demandv1.ListProjectsRequest{Filter: "status = CONTRACT_EXPIRED"})
		if err != nil || len(l.GetProjects()) != 2 {
			t.Fatalf("projects awaiting a decision: %v, %v", l.GetProjects(), err)
		}
		// Each resident reads it once on the demand's timeline, with the end date.
		const expiredMsg = "共建契约已于2026年12月30日到期，社区正在商议续约或结项"
		for d, msgs := range e.timelines(renewed, closed) {
			if count(msgs, expiredMsg) != 1 {
				t.Fatalf("%s's timeline: %q", d, msgs)
			}
		}
		// A second sweep finds nothing to expire again.
		e.clock.Set(cst(2027, 1, 1, 9, 0))
		if _, err := e.svc.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}

		// Only the contract makes the project CONTRACTED, never a hand.
		p := e.getProject(renewed.GetName())
		_, err = e.demands.ChangeProjectStatus(staff, &demandv1.ChangeProjectStatusRequest{Name: p.GetName(),
			Status: demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED, Reply: "继续", Etag: p.GetEtag()})
		wantCode(t, err, codes.FailedPrecondition, "")

		// Renewed: the successor is drafted from the terms in force, a month later.
		rn, err := e.contracts.RenewContract(staff, &contractv1.RenewContractRequest{Name: first.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		next := rn.GetContract()
		if next.GetPredecessor() != first.GetName() || next.GetVersions()[0].GetTerms().GetStartDate().GetDay() != 31 {
			t.Fatalf("successor: %v", next)
		}
		s, err := e.contracts.SubmitContract(staff, &contractv1.SubmitContractRequest{Name: next.GetName(), Etag: next.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		// While the renewal awaits signatures the project is not closed by hand.
		e.demandCaughtUp(next.GetName())
		p = e.getProject(renewed.GetName())
		_, err = e.demands.ChangeProjectStatus(staff, &demandv1.ChangeProjectStatusRequest{Name: p.GetName(),
			Status: demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED, Reply: "结项", Etag: p.GetEtag()})
		wantCode(t, err, codes.FailedPrecondition, "terminate it")
		e.signAll(s.GetContract())
		e.eventually("the renewed project CONTRACTED", func() bool {
			return e.projectStatus(renewed.GetName()) == demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED
		})
		const renewedMsg = "合伙人与社区已续签共建契约，项目继续实施。"
		for d, msgs := range e.timelines(renewed) {
			if count(msgs, renewedMsg) != 1 {
				t.Fatalf("%s's timeline: %q", d, msgs)
			}
		}
		// The expired contract's own end (evaluated now) counts in the track record only:
		// the project follows its successor.
		old := e.get(first.GetName())
		if _, err := e.contracts.EvaluateContract(staff, &contractv1.EvaluateContractRequest{Name: old.GetName(), Rating: 4,
			Summary: "第一期按约完成。", Outcome: contractv1.ContractStatus_CONTRACT_STATUS_FULFILLED, Etag: old.GetEtag()}); err != nil {
			t.Fatal(err)
		}

		// Closed: a reason is required, and the residents read it; their needs are resolved.
		p = e.getProject(closed.GetName())
		_, err = e.demands.ChangeProjectStatus(staff, &demandv1.ChangeProjectStatusRequest{Name: p.GetName(),
			Status: demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED, Etag: p.GetEtag()})
		wantCode(t, err, codes.InvalidArgument, "reply")
		const closedMsg = "一期服务已按约完成，社区决定结项，感谢各位家长的支持。"
		cl, err := e.demands.ChangeProjectStatus(staff, &demandv1.ChangeProjectStatusRequest{Name: p.GetName(),
			Status: demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED, Reply: closedMsg, Etag: p.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		if cl.GetProject().GetStatus() != demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED {
			t.Fatalf("closed: %v", cl.GetProject().GetStatus())
		}
		for _, d := range closed.GetDemands() {
			got, err := e.demands.GetDemand(staff, &demandv1.GetDemandRequest{Name: d})
			if err != nil || got.GetDemand().GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_RESOLVED {
				t.Fatalf("%s after the close: %v, %v", d, got.GetDemand().GetStatus(), err)
			}
			if msgs := e.timeline(d); count(msgs, closedMsg) != 1 {
				t.Fatalf("%s's timeline: %q", d, msgs)
			}
		}
		// Evaluated after the close, the expired contract moves the project no more.
		o := e.get(other.GetName())
		if _, err := e.contracts.EvaluateContract(staff, &contractv1.EvaluateContractRequest{Name: o.GetName(), Rating: 4,
			Summary: "按约完成。", Outcome: contractv1.ContractStatus_CONTRACT_STATUS_FULFILLED, Etag: o.GetEtag()}); err != nil {
			t.Fatal(err)
		}

		// Demand reads the contract feed again from its start (its cursor lost): nothing moves
		// and nobody is told twice.
		last := e.demandCaughtUp(other.GetName())
		before := e.timelines(renewed, closed)
		stopDemand()
		if _, err := e.ddb.Exec(t.Context(), `DELETE FROM consumer_cursors WHERE consumer = 'demand-contracts'`); err != nil {
			t.Fatal(err)
		}
		e.runDemand()
		e.eventually("the feed read again", func() bool { return e.demandCursor() >= last })
		time.Sleep(300 * time.Millisecond)
		after := e.timelines(renewed, closed)
		for d, msgs := range before {
			if len(after[d]) != len(msgs) {
				t.Fatalf("%s's timeline after the replay:\n%q\nbefore:\n%q", d, after[d], msgs)
			}
		}
		if st := e.projectStatus(renewed.GetName()); st != demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED {
			t.Fatalf("the renewed project after the replay: %v", st)
		}
		if st := e.projectStatus(closed.GetName()); st != demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED {
			t.Fatalf("the closed project after the replay: %v", st)
		}
	})
}

// demandCursor is where demand's follower of the contract feed is (-1: nowhere yet).
func (e *env) demandCursor() int64 {
	var n int64
	if err := e.ddb.Reads().QueryRow(e.t.Context(), `SELECT cursor FROM consumer_cursors WHERE consumer = 'demand-contracts'`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// demandCaughtUp waits until demand has applied the contract feed's status changes, the last
// one of contract included, and returns its cursor.
func (e *env) demandCaughtUp(contract string) int64 {
	e.t.Helper()
	var last int64
	e.eventually("demand following the contract feed", func() bool {
		var mine int64
		if err := e.db.Reads().QueryRow(e.t.Context(), `SELECT COALESCE(MAX(cursor), 0), COALESCE(MAX(CASE WHEN subject = $1 THEN cursor END), 0)
			FROM events WHERE type = 'jiayuan.contract.v1.ContractStatusChanged'`, contract).Scan(&last, &mine); err != nil {
			e.t.Fatal(err)
		}
		return mine > 0 && e.demandCursor() >= last
	})
	return last
}
