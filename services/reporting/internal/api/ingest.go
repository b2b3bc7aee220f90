package api

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/reporting/internal/domain"
	"github.com/jiayuan/jiayuan/services/reporting/internal/store"
)

// Handler returns the handler of source's feed, which applies a batch of events in one
// transaction: their figures are summed in memory and written as one upsert per table, the
// states they move read once and written back once. Each event is applied once by its id (a
// replay changes nothing); an event of a type it does not know is counted as skipped.
func (s *Server) Handler(source string) eventfeed.BatchHandler {
	return func(ctx context.Context, tx sqlstore.Tx, evs []*eventsv1.Event) error {
		ids := make([]string, len(evs))
		for i, ev := range evs {
			ids[i] = ev.GetId()
		}
		fresh, err := s.store.FirstApplies(ctx, tx, source, ids)
		if err != nil {
			return err
		}
		b := &batch{s: s, aggs: map[store.Agg]int64{}, skipped: map[string]int64{}, regionsOf: map[string][]string{},
			demands: map[string]*state[store.Demand]{}, projects: map[string]*state[store.Project]{}, cases: map[string]*state[store.Case]{},
			meetings: map[string]*state[store.Meeting]{}}
		var todo []*applier
		for _, ev := range evs {
			if !fresh[ev.GetId()] {
				continue
			}
			fresh[ev.GetId()] = false // an id twice in one batch is applied once
			a := &applier{s: s, ctx: ctx, tx: tx, ev: ev, b: b}
			// A type this build does not know leaves msg nil.
			a.msg, _ = ev.GetPayload().UnmarshalNew()
			b.want(a.msg)
			todo = append(todo, a)
		}
		if err := b.load(ctx, tx); err != nil {
			return err
		}
		for _, a := range todo {
			known, err := a.apply()
			if err != nil {
				return fmt.Errorf("apply %s %s: %w", a.ev.GetType(), a.ev.GetId(), err)
			}
			if !known {
				b.skipped[a.ev.GetType()]++
			}
		}
		b.write(ctx, tx, source)
		return nil
	}
}

// batch is what a batch of events changes, kept in memory until the batch is written: the
// figures' deltas, the skipped counts, and the states read and moved.
type batch struct {
	s         *Server
	aggs      map[store.Agg]int64
	skipped   map[string]int64
	regionsOf map[string][]string
	demands   map[string]*state[store.Demand]
	projects  map[string]*state[store.Project]
	cases     map[string]*state[store.Case]
	meetings  map[string]*state[store.Meeting]
}

// state is an entity's state in a batch: found when it exists (read or put), dirty when the
// batch changed it.
type state[T any] struct {
	v            T
	found, dirty bool
}

// want notes the states an event's payload will read, so that load reads them all at once.
func (b *batch) want(msg proto.Message) {
	switch m := msg.(type) {
	case *demandv1.DemandSubmitted:
		b.demands[m.GetDemand().GetName()] = nil
	case *demandv1.DemandStatusChanged:
		b.demands[m.GetName()] = nil
	case *demandv1.ProjectStatusChanged:
		b.projects[m.GetName()] = nil
	case *demandv1.ProjectMatched:
		b.projects[m.GetProject().GetName()] = nil
	case *escalationv1.CaseChanged:
		b.cases[m.GetCase().GetName()] = nil
	case *demandv1.MeetingRecorded:
		b.meetings[m.GetName()] = nil
	}
}

// load reads the states want noted, one query per kind.
func (b *batch) load(ctx context.Context, tx sqlstore.Tx) error {
	if err := loadStates(ctx, tx, b.demands, b.s.store.GetDemands); err != nil {
		return err
	}
	if err := loadStates(ctx, tx, b.projects, b.s.store.GetProjects); err != nil {
		return err
	}
	if err := loadStates(ctx, tx, b.cases, b.s.store.GetCases); err != nil {
		return err
	}
	return loadStates(ctx, tx, b.meetings, b.s.store.GetMeetings)
}

func loadStates[T any](ctx context.Context, tx sqlstore.Tx, states map[string]*state[T],
	get func(context.Context, sqlstore.Querier, []string) (map[string]T, error)) error {
	var names []string
	for name, st := range states {
		if st == nil {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	found, err := get(ctx, tx, names)
	if err != nil {
		return err
	}
	for _, name := range names {
		v, ok := found[name]
		states[name] = &state[T]{v: v, found: ok}
	}
	return nil
}

// lookup returns the state of name, reading it when load did not.
func lookup[T any](ctx context.Context, tx sqlstore.Tx, states map[string]*state[T], name string,
	get func(context.Context, sqlstore.Querier, []string) (map[string]T, error)) (T, bool, error) {
	if states[name] == nil {
		states[name] = nil
		if err := loadStates(ctx, tx, states, get); err != nil {
			var zero T
			return zero, false, err
		}
	}
	st := states[name]
	return st.v, st.found, nil
}

// put records name's new state, written with the batch.
func put[T any](states map[string]*state[T], name string, v T) {
	states[name] = &state[T]{v: v, found: true, dirty: true}
}

func dirty[T any](states map[string]*state[T]) []T {
	var out []T
	for _, name := range slices.Sorted(maps.Keys(states)) {
		if st := states[name]; st != nil && st.dirty {
			out = append(out, st.v)
		}
	}
	return out
}

// write queues the batch's writes.
func (b *batch) write(ctx context.Context, tx sqlstore.Tx, source string) {
	b.s.store.AddAll(ctx, tx, b.aggs)
	b.s.store.PutDemands(ctx, tx, dirty(b.demands))
	b.s.store.PutProjects(ctx, tx, dirty(b.projects))
	b.s.store.PutCases(ctx, tx, dirty(b.cases))
	b.s.store.PutMeetings(ctx, tx, dirty(b.meetings))
	b.s.store.SkipAll(ctx, tx, source, b.skipped)
}

// applier applies one event of a batch.
type applier struct {
	s   *Server
	ctx context.Context
	tx  sqlstore.Tx
	ev  *eventsv1.Event
	msg proto.Message // the decoded payload; nil for a type this build does not know
	b   *batch
}

// add adds delta to measure/dimension of region (and its ancestors) on day.
func (a *applier) add(region string, day int, measure, dim string, delta int64) {
	regions, ok := a.b.regionsOf[region]
	if !ok {
		regions = a.s.regions(region)
		a.b.regionsOf[region] = regions
	}
	for _, r := range regions {
		a.b.aggs[store.Agg{Region: r, Key: store.Key{Day: day, Measure: measure, Dimension: dim}}] += delta
	}
}

// day is the local day of t, or of the event's commit when t is unset.
func (a *applier) day(t *timestamppb.Timestamp) int {
	if t.IsValid() && t.AsTime().Unix() > 0 {
		return domain.Day(t.AsTime())
	}
	return domain.Day(a.ev.GetTime().AsTime())
}

func (a *applier) getDemand(name string) (store.Demand, bool, error) {
	return lookup(a.ctx, a.tx, a.b.demands, name, a.s.store.GetDemands)
}

func (a *applier) putDemand(d store.Demand) { put(a.b.demands, d.Name, d) }

func (a *applier) getProject(name string) (store.Project, bool, error) {
	return lookup(a.ctx, a.tx, a.b.projects, name, a.s.store.GetProjects)
}

func (a *applier) putProject(p store.Project) { put(a.b.projects, p.Name, p) }

func (a *applier) getCase(name string) (store.Case, bool, error) {
	return lookup(a.ctx, a.tx, a.b.cases, name, a.s.store.GetCases)
}

func (a *applier) putCase(c store.Case) { put(a.b.cases, c.Name, c) }

func (a *applier) getMeeting(name string) (store.Meeting, bool, error) {
	return lookup(a.ctx, a.tx, a.b.meetings, name, a.s.store.GetMeetings)
}

func (a *applier) putMeeting(m store.Meeting) { put(a.b.meetings, m.Name, m) }

func (a *applier) apply() (bool, error) {
	switch m := a.msg.(type) {
	case *contractv1.ContractStatusChanged:
		a.contractMoved(m)
	case *contractv1.AlertRaised:
		if m.GetAlert().GetKind() != contractv1.AlertKind_ALERT_KIND_PARTNER_INACTIVE {
			return true, nil // the other alerts are the parties' business, not a figure
		}
		a.add(m.GetCommunityCode(), a.day(nil), domain.InactiveAlerts, "", 1)
	case *partnerv1.PartnerRegistered:
		a.partnerRegistered(m)
	case *partnerv1.PartnerStatusChanged:
		measure := domain.PartnersByStatus
		if strings.HasPrefix(m.GetName(), "partnerGroups/") {
			measure = domain.GroupsByStatus
		}
		day := a.day(m.GetChange().GetChangeTime())
		a.add(m.GetRegionCode(), day, measure, m.GetChange().GetFromStatus().String(), -1)
		a.add(m.GetRegionCode(), day, measure, m.GetChange().GetToStatus().String(), 1)
	case *partnerv1.ActivityRecorded:
		a.activity(m.GetActivity())
	case *demandv1.DemandSubmitted:
		return true, a.demandSubmitted(m.GetDemand())
	case *demandv1.DemandStatusChanged:
		return true, a.demandMoved(m)
	case *demandv1.DemandRated:
		a.add(m.GetCommunityCode(), a.day(nil), domain.Ratings, m.GetRating().String(), 1)
	case *demandv1.ProjectStatusChanged:
		return true, a.projectMoved(m)
	case *demandv1.ProjectMatched:
		return true, a.projectMatched(m)
	case *demandv1.MeetingRecorded:
		return true, a.meetingRecorded(m)
	case *escalationv1.CaseChanged:
		return true, a.caseChanged(m)
	default:
		return false, nil
	}
	return true, nil
}

func (a *applier) partnerRegistered(m *partnerv1.PartnerRegistered) {
	var (
		region, status, channel string
		caps                    []*partnerv1.Capability
		created                 *timestamppb.Timestamp
		measure                 = domain.PartnersByStatus
	)
	if g := m.GetGroup(); g != nil {
		measure, region, status, channel = domain.GroupsByStatus, g.GetRegionCode(), g.GetStatus().String(), g.GetRecruitmentChannel().String()
		caps, created = g.GetCapabilities(), g.GetCreateTime()
	} else {
		p := m.GetPartner()
		region, status, channel = p.GetRegionCode(), p.GetStatus().String(), p.GetRecruitmentChannel().String()
		caps, created = p.GetCapabilities(), p.GetCreateTime()
	}
	day := a.day(created)
	a.add(region, day, measure, status, 1)
	a.add(region, day, domain.RecruitedByChannel, channel, 1)
	seen := map[string]bool{}
	for _, c := range caps {
		if k := c.GetCategory().String(); !seen[k] {
			seen[k] = true
			a.add(region, day, domain.PartiesByField, k, 1)
		}
	}
}

func (a *applier) activity(act *partnerv1.ServiceActivity) {
	day, ok := domain.DayOfDate(act.GetActivityDate())
	if !ok {
		day = a.day(act.GetCreateTime())
	}
	region, partner := act.GetCommunityCode(), act.GetPartner()
	a.add(region, day, domain.Sessions, act.GetKind().String(), 1)
	a.add(region, day, domain.PeopleServed, "", int64(act.GetPeopleServed()))
	a.add(region, day, domain.VolunteerMinutes, "", int64(act.GetVolunteerMinutes()))
	a.add(region, day, domain.PartnerSessions, partner, 1)
	a.add(region, day, domain.PartnerPeople, partner, int64(act.GetPeopleServed()))
	a.add(region, day, domain.PartnerMinutes, partner, int64(act.GetVolunteerMinutes()))
}

func (a *applier) demandSubmitted(d *demandv1.Demand) error {
	if _, found, err := a.getDemand(d.GetName()); err != nil || found {
		return err
	}
	day := a.day(d.GetCreateTime())
	region := d.GetCommunityCode()
	a.add(region, day, domain.DemandsByKind, d.GetKind().String(), 1)
	a.add(region, day, domain.DemandsByCategory, d.GetCategory().String(), 1)
	a.add(region, day, domain.DemandsByChannel, d.GetChannel().String(), 1)
	a.add(region, day, domain.DemandsByStatus, d.GetStatus().String(), 1)
	submit := a.ev.GetTime().AsTime()
	if d.GetCreateTime().IsValid() {
		submit = d.GetCreateTime().AsTime()
	}
	a.putDemand(store.Demand{Name: d.GetName(), Community: region, Status: int32(d.GetStatus()), SubmitUS: submit.UnixMicro()})
	return nil
}

func (a *applier) demandMoved(m *demandv1.DemandStatusChanged) error {
	st, found, err := a.getDemand(m.GetName())
	if err != nil {
		return err
	}
	if !found {
		// Its submission was never seen (a feed trimmed before it): count it from here on.
		st = store.Demand{Name: m.GetName(), Community: m.GetCommunityCode(), Status: int32(m.GetFromStatus()), SubmitUS: a.ev.GetTime().AsTime().UnixMicro()}
		a.add(st.Community, a.day(nil), domain.DemandsByStatus, m.GetFromStatus().String(), 1)
	}
	day, to := a.day(nil), m.GetToStatus()
	a.add(st.Community, day, domain.DemandsByStatus, demandv1.DemandStatus(st.Status).String(), -1)
	a.add(st.Community, day, domain.DemandsByStatus, to.String(), 1)
	st.Status = int32(to)
	switch {
	case to == demandv1.DemandStatus_DEMAND_STATUS_RESOLVED && !st.Solved:
		// A matter solved counts once, whether a project or a case solved it, and however
		// often it is reopened and resolved again.
		st.Solved = true
		a.add(st.Community, day, domain.MattersSolved, "", 1)
		took := a.ev.GetTime().AsTime().Sub(time.UnixMicro(st.SubmitUS))
		a.add(st.Community, day, domain.ResolutionHist, domain.Bucket(took), 1)
	case to == demandv1.DemandStatus_DEMAND_STATUS_CLOSED_UNRESOLVED && !st.Unsolved:
		st.Unsolved = true
		a.add(st.Community, day, domain.ClosedUnresolved, "", 1)
	}
	a.putDemand(st)
	return nil
}

func (a *applier) projectMoved(m *demandv1.ProjectStatusChanged) error {
	st, found, err := a.getProject(m.GetName())
	if err != nil {
		return err
	}
	day, to := a.day(nil), m.GetToStatus()
	cancelled := demandv1.ProjectStatus_PROJECT_STATUS_CANCELLED
	if !found {
		st = store.Project{Name: m.GetName(), Community: m.GetCommunityCode(), Status: int32(demandv1.ProjectStatus_PROJECT_STATUS_UNSPECIFIED), ListType: int32(m.GetListType())}
	} else {
		a.add(st.Community, day, domain.ProjectsByStatus, demandv1.ProjectStatus(st.Status).String(), -1)
	}
	a.add(st.Community, day, domain.ProjectsByStatus, to.String(), 1)
	wasCounted := found && demandv1.ProjectStatus(st.Status) != cancelled
	isCounted := to != cancelled
	list := demandv1.ListType(st.ListType).String()
	switch {
	case wasCounted && !isCounted:
		a.add(st.Community, day, domain.ProjectsByList, list, -1)
	case !wasCounted && isCounted:
		a.add(st.Community, day, domain.ProjectsByList, list, 1)
	}
	st.Status = int32(to)
	a.putProject(st)
	return nil
}

func (a *applier) projectMatched(m *demandv1.ProjectMatched) error {
	pr := m.GetProject()
	st, found, err := a.getProject(pr.GetName())
	if err != nil {
		return err
	}
	if !found {
		st = store.Project{Name: pr.GetName(), Community: pr.GetCommunityCode(), Status: int32(pr.GetStatus()), ListType: int32(pr.GetListType())}
	}
	if st.Matched {
		return nil // a project's needs are counted matched once
	}
	st.Matched = true
	a.add(st.Community, a.day(nil), domain.NeedsMatched, "", int64(len(pr.GetDemands())))
	a.putProject(st)
	return nil
}

// meetingRecorded counts a community meeting on its own date, by its kind; a second event for
// the same meeting (its date corrected) moves it to the new date.
func (a *applier) meetingRecorded(m *demandv1.MeetingRecorded) error {
	day, ok := domain.DayOfDate(m.GetMeetingDate())
	if !ok {
		day = a.day(nil)
	}
	next := store.Meeting{Name: m.GetName(), Community: m.GetCommunityCode(), Kind: m.GetKind().String(), Day: day}
	cur, found, err := a.getMeeting(m.GetName())
	if err != nil {
		return err
	}
	if found {
		if cur == next {
			return nil
		}
		a.add(cur.Community, cur.Day, domain.Meetings, cur.Kind, -1)
	}
	a.add(next.Community, next.Day, domain.Meetings, next.Kind, 1)
	a.putMeeting(next)
	return nil
}

func (a *applier) caseChanged(m *escalationv1.CaseChanged) error {
	c, e := m.GetCase(), m.GetEvent()
	st, found, err := a.getCase(c.GetName())
	if err != nil {
		return err
	}
	day, region := a.day(e.GetCreateTime()), c.GetCommunityCode()
	if !found {
		st = store.Case{Name: c.GetName(), Community: region}
		a.add(region, a.day(c.GetCreateTime()), domain.CasesOpened, "", 1)
	}
	// The three-colour distribution of open cases: take the case out where it was, put it
	// where it is.
	if st.Open {
		a.add(st.Community, day, domain.OpenCasesByColour, escalationv1.Colour(st.Colour).String(), -1)
	}
	status := c.GetStatus()
	st.Open = status != escalationv1.CaseStatus_CASE_STATUS_RESOLVED && status != escalationv1.CaseStatus_CASE_STATUS_CLOSED_UNRESOLVED
	st.Colour = int32(c.GetColour())
	if st.Open {
		a.add(st.Community, day, domain.OpenCasesByColour, c.GetColour().String(), 1)
	}
	switch e.GetKind() {
	case escalationv1.CaseEventKind_CASE_EVENT_KIND_ESCALATED:
		a.add(region, day, domain.Escalations, "", 1)
	case escalationv1.CaseEventKind_CASE_EVENT_KIND_MEETING_HELD:
		a.add(region, day, domain.Meetings, domain.MeetingCase, 1)
	case escalationv1.CaseEventKind_CASE_EVENT_KIND_MEDIATED:
		a.add(region, day, domain.Meetings, domain.MeetingMediation, 1)
	}
	switch e.GetKind() {
	case escalationv1.CaseEventKind_CASE_EVENT_KIND_REPLIED, escalationv1.CaseEventKind_CASE_EVENT_KIND_RESOLVED,
		escalationv1.CaseEventKind_CASE_EVENT_KIND_CLOSED_UNRESOLVED:
		if !st.Replied && c.GetCreateTime().IsValid() && e.GetCreateTime().IsValid() {
			// The unit's first word to the resident: a progress reply, or the outcome itself.
			st.Replied = true
			a.add(region, day, domain.FirstReplyHist, domain.Bucket(e.GetCreateTime().AsTime().Sub(c.GetCreateTime().AsTime())), 1)
		}
	}
	switch e.GetKind() {
	case escalationv1.CaseEventKind_CASE_EVENT_KIND_RESOLVED, escalationv1.CaseEventKind_CASE_EVENT_KIND_CLOSED_UNRESOLVED:
		if !st.Closed {
			st.Closed = true
			dim := domain.OnTime
			if dl := c.GetResolveDeadline(); dl.IsValid() && e.GetCreateTime().AsTime().After(dl.AsTime()) {
				dim = domain.Late
			}
			a.add(region, day, domain.CasesClosed, dim, 1)
		}
	}
	a.putCase(st)
	return nil
}

// contractMoved counts a contract's move: active contracts are a stock (in on entering ACTIVE,
// out on leaving it), fulfilled and breached ones the outcomes of the period.
func (a *applier) contractMoved(m *contractv1.ContractStatusChanged) {
	const active = contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE
	region, day := m.GetContract().GetCommunityCode(), a.day(nil)
	switch {
	case m.GetToStatus() == active && m.GetFromStatus() != active:
		a.add(region, day, domain.ContractsActive, "", 1)
	case m.GetFromStatus() == active && m.GetToStatus() != active:
		a.add(region, day, domain.ContractsActive, "", -1)
	}
	switch m.GetToStatus() {
	case contractv1.ContractStatus_CONTRACT_STATUS_FULFILLED:
		a.add(region, day, domain.ContractsFulfilled, "", 1)
	case contractv1.ContractStatus_CONTRACT_STATUS_BREACHED:
		a.add(region, day, domain.ContractsBreached, "", 1)
	}
}
