// Package domain holds the contract service's rules with no I/O: the lifecycle, the checks on
// terms the proto cannot state (owners are parties, dates inside the period), the templates
// per project list type, the counting of fulfilments into results, and the follow-up schedule
// the sweeper walks (which alert falls due when).
package domain

import (
	"fmt"
	"slices"
	"time"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/calendar"
)

// CommunityParty is the party string of the community's own side (its party organisation).
const CommunityParty = "community"

// Ended reports whether a contract is past its lifecycle's end: nothing changes it any more.
func Ended(s contractv1.ContractStatus) bool {
	switch s {
	case contractv1.ContractStatus_CONTRACT_STATUS_FULFILLED, contractv1.ContractStatus_CONTRACT_STATUS_BREACHED,
		contractv1.ContractStatus_CONTRACT_STATUS_TERMINATED:
		return true
	}
	return false
}

// Parties lists the parties' strings of c: "community" first, then its partners.
func Parties(c *contractv1.Contract) []string {
	out := make([]string, 0, len(c.GetParties()))
	for _, p := range c.GetParties() {
		out = append(out, p.GetParty())
	}
	return out
}

// Partners lists the partners of c (the parties but the community).
func Partners(c *contractv1.Contract) []string {
	var out []string
	for _, p := range c.GetParties() {
		if p.GetParty() != CommunityParty {
			out = append(out, p.GetParty())
		}
	}
	return out
}

// IsParty reports whether party is one of c's.
func IsParty(c *contractv1.Contract, party string) bool { return slices.Contains(Parties(c), party) }

// NewParties is the parties of a contract with partners: the community first.
func NewParties(partners []string) []*contractv1.Party {
	out := []*contractv1.Party{{Party: CommunityParty}}
	for _, p := range partners {
		out = append(out, &contractv1.Party{Party: p})
	}
	return out
}

// InForce is c's version in force, nil when none is.
func InForce(c *contractv1.Contract) *contractv1.ContractVersion {
	return VersionOf(c, c.GetInForceVersion())
}

// Pending is c's version waiting for signatures, nil when none is.
func Pending(c *contractv1.Contract) *contractv1.ContractVersion {
	for _, v := range c.GetVersions() {
		if v.GetState() == contractv1.VersionState_VERSION_STATE_PENDING {
			return v
		}
	}
	return nil
}

// Latest is c's newest version.
func Latest(c *contractv1.Contract) *contractv1.ContractVersion {
	if n := len(c.GetVersions()); n > 0 {
		return c.GetVersions()[n-1]
	}
	return nil
}

// VersionOf is c's version number n, nil when there is none.
func VersionOf(c *contractv1.Contract, n int32) *contractv1.ContractVersion {
	for _, v := range c.GetVersions() {
		if v.GetNumber() == n {
			return v
		}
	}
	return nil
}

// Current is the terms that bind now (in force), or else the terms being written or signed.
func Current(c *contractv1.Contract) *contractv1.Terms {
	if v := InForce(c); v != nil {
		return v.GetTerms()
	}
	if v := Latest(c); v != nil {
		return v.GetTerms()
	}
	return nil
}

func civil(d interface {
	GetYear() int32
	GetMonth() int32
	GetDay() int32
}, field string) (calendar.Date, error) {
	if d == nil {
		return calendar.Date{}, apierr.InvalidArgument(field, "is required")
	}
	out := calendar.Date{Year: int(d.GetYear()), Month: time.Month(d.GetMonth()), Day: int(d.GetDay())}
	if out.Year < 2000 || out.Year > 2200 || d.GetMonth() < 1 || d.GetMonth() > 12 || d.GetDay() < 1 ||
		calendar.DateOf(out.Start()) != out {
		return calendar.Date{}, apierr.InvalidArgument(field, fmt.Sprintf("%04d-%02d-%02d is not a date", d.GetYear(), d.GetMonth(), d.GetDay()))
	}
	return out, nil
}

// Period is the terms' start and end dates, checked.
func Period(t *contractv1.Terms, field string) (start, end calendar.Date, err error) {
	if start, err = civil(t.GetStartDate(), field+".start_date"); err != nil {
		return
	}
	if end, err = civil(t.GetEndDate(), field+".end_date"); err != nil {
		return
	}
	if end.Compare(start) < 0 {
		err = apierr.InvalidArgument(field+".end_date", end.String()+" is before the start date "+start.String())
	}
	return
}

// CheckTerms checks what the proto cannot state: every duty's owner is a party, every date
// lies in the period, ids are unique. field prefixes the names in errors ("terms").
func CheckTerms(t *contractv1.Terms, parties []string, field string) error {
	start, end, err := Period(t, field)
	if err != nil {
		return err
	}
	inPeriod := func(f string, d calendar.Date) error {
		if d.Compare(start) < 0 || d.Compare(end) > 0 {
			return apierr.InvalidArgument(f, d.String()+" is outside the contract's period "+start.String()+" to "+end.String())
		}
		return nil
	}
	ids := map[string]bool{}
	unique := func(f, id string) error {
		if id == "" {
			return nil
		}
		if ids[id] {
			return apierr.InvalidArgument(f, "id "+id+" is used twice")
		}
		ids[id] = true
		return nil
	}
	for i, d := range t.GetDuties() {
		f := fmt.Sprintf("%s.duties[%d]", field, i)
		if !slices.Contains(parties, d.GetOwner()) {
			return apierr.InvalidArgument(f+".owner", d.GetOwner()+" is not a party to the contract")
		}
		if err := unique(f+".id", d.GetId()); err != nil {
			return err
		}
		if d.GetDueDate() != nil {
			due, err := civil(d.GetDueDate(), f+".due_date")
			if err != nil {
				return err
			}
			if err := inPeriod(f+".due_date", due); err != nil {
				return err
			}
		}
	}
	for i, m := range t.GetMilestones() {
		f := fmt.Sprintf("%s.milestones[%d]", field, i)
		if err := unique(f+".id", m.GetId()); err != nil {
			return err
		}
		due, err := civil(m.GetDueDate(), f+".due_date")
		if err != nil {
			return err
		}
		if err := inPeriod(f+".due_date", due); err != nil {
			return err
		}
	}
	for i, r := range t.GetExpectedResults() {
		if err := unique(fmt.Sprintf("%s.expected_results[%d].id", field, i), r.GetId()); err != nil {
			return err
		}
	}
	return nil
}

// AssignIDs gives every duty, milestone and result without an id the next free one ("d3"),
// and carries over the counts of prev (the terms they amend) for the ids they keep, so
// fulfilments stay attached across versions. Output-only fields the caller sent are cleared.
func AssignIDs(t, prev *contractv1.Terms) {
	used := map[string]bool{}
	for _, d := range t.GetDuties() {
		used[d.GetId()] = true
	}
	for _, m := range t.GetMilestones() {
		used[m.GetId()] = true
	}
	for _, r := range t.GetExpectedResults() {
		used[r.GetId()] = true
	}
	next := func(prefix string) string {
		for i := 1; ; i++ {
			id := fmt.Sprintf("%s%d", prefix, i)
			if !used[id] {
				used[id] = true
				return id
			}
		}
	}
	prevDuty := map[string]*contractv1.Duty{}
	prevMilestone := map[string]*contractv1.Milestone{}
	prevResult := map[string]*contractv1.ExpectedResult{}
	for _, d := range prev.GetDuties() {
		prevDuty[d.GetId()] = d
	}
	for _, m := range prev.GetMilestones() {
		prevMilestone[m.GetId()] = m
	}
	for _, r := range prev.GetExpectedResults() {
		prevResult[r.GetId()] = r
	}
	for _, d := range t.GetDuties() {
		if d.Id == "" {
			d.Id = next("d")
		}
		d.FulfilmentCount, d.LastFulfilledDate = 0, nil
		if p := prevDuty[d.GetId()]; p != nil {
			d.FulfilmentCount, d.LastFulfilledDate = p.GetFulfilmentCount(), p.GetLastFulfilledDate()
		}
	}
	for _, m := range t.GetMilestones() {
		if m.Id == "" {
			m.Id = next("m")
		}
		m.ReachedDate = nil
		if p := prevMilestone[m.GetId()]; p != nil {
			m.ReachedDate = p.GetReachedDate()
		}
	}
	for _, r := range t.GetExpectedResults() {
		if r.Id == "" {
			r.Id = next("r")
		}
		r.AchievedValue = 0
		if p := prevResult[r.GetId()]; p != nil {
			r.AchievedValue = p.GetAchievedValue()
		}
	}
}

// Signed reports whether party signed v.
func Signed(v *contractv1.ContractVersion, party string) bool {
	for _, s := range v.GetSignatures() {
		if s.GetParty() == party {
			return true
		}
	}
	return false
}

// AllSigned reports whether every party of c signed v.
func AllSigned(c *contractv1.Contract, v *contractv1.ContractVersion) bool {
	for _, p := range Parties(c) {
		if !Signed(v, p) {
			return false
		}
	}
	return true
}

// Fulfil counts f into terms t (the version in force): the duty's count and date, the
// milestone reached, each result by its measure. It reports an unknown duty or milestone id as
// INVALID_ARGUMENT naming field.
func Fulfil(t *contractv1.Terms, f *contractv1.Fulfilment, field string) error {
	var duty *contractv1.Duty
	if id := f.GetDutyId(); id != "" {
		for _, d := range t.GetDuties() {
			if d.GetId() == id {
				duty = d
			}
		}
		if duty == nil {
			return apierr.InvalidArgument(field+".duty_id", id+" is not a duty of the contract's terms in force")
		}
		if duty.GetOwner() != f.GetParty() {
			return apierr.InvalidArgument(field+".duty_id", "duty "+id+" is "+duty.GetOwner()+"'s, not "+f.GetParty()+"'s")
		}
	}
	var milestone *contractv1.Milestone
	if id := f.GetMilestoneId(); id != "" {
		for _, m := range t.GetMilestones() {
			if m.GetId() == id {
				milestone = m
			}
		}
		if milestone == nil {
			return apierr.InvalidArgument(field+".milestone_id", id+" is not a milestone of the contract's terms in force")
		}
	}
	for id := range f.GetManualValues() {
		ok := false
		for _, r := range t.GetExpectedResults() {
			ok = ok || (r.GetId() == id && r.GetMeasure() == contractv1.ResultMeasure_RESULT_MEASURE_MANUAL)
		}
		if !ok {
			return apierr.InvalidArgument(field+".manual_values", id+" is not an expected result counted by hand (MANUAL)")
		}
	}
	if duty != nil {
		duty.FulfilmentCount++
		if later(f.GetDate(), duty.GetLastFulfilledDate()) {
			duty.LastFulfilledDate = cloneDate(f.GetDate())
		}
	}
	if milestone != nil && milestone.GetReachedDate() == nil {
		milestone.ReachedDate = cloneDate(f.GetDate())
	}
	for _, r := range t.GetExpectedResults() {
		switch r.GetMeasure() {
		case contractv1.ResultMeasure_RESULT_MEASURE_PEOPLE_SERVED:
			r.AchievedValue += int64(f.GetPeopleServed())
		case contractv1.ResultMeasure_RESULT_MEASURE_SESSIONS:
			if f.GetDutyId() != "" || f.GetActivity() != "" {
				r.AchievedValue++
			}
		case contractv1.ResultMeasure_RESULT_MEASURE_VOLUNTEER_MINUTES:
			r.AchievedValue += int64(f.GetVolunteerMinutes())
		case contractv1.ResultMeasure_RESULT_MEASURE_MANUAL:
			r.AchievedValue += f.GetManualValues()[r.GetId()]
		}
	}
	return nil
}

// DutyFor picks the duty an activity of party on day counts against: the party's weekly duty
// recurring on that weekday, else its earliest one-off duty not yet fulfilled, else none ("").
func DutyFor(t *contractv1.Terms, party string, day calendar.Date) string {
	wd := isoWeekday(day)
	for _, d := range t.GetDuties() {
		if d.GetOwner() == party && d.GetWeekly() != nil && int(d.GetWeekly().GetWeekday()) == wd {
			return d.GetId()
		}
	}
	best, bestDue := "", calendar.Date{}
	for _, d := range t.GetDuties() {
		if d.GetOwner() != party || d.GetDueDate() == nil || d.GetFulfilmentCount() > 0 {
			continue
		}
		due, err := civil(d.GetDueDate(), "")
		if err != nil {
			continue
		}
		if best == "" || due.Compare(bestDue) < 0 {
			best, bestDue = d.GetId(), due
		}
	}
	return best
}

// isoWeekday is d's weekday, Monday 1 … Sunday 7, as typev1.Weekday numbers them.
func isoWeekday(d calendar.Date) int {
	wd := int(d.Weekday())
	if wd == 0 {
		return 7
	}
	return wd
}

// Evaluate is each expected result of t against its target over the period.
func Evaluate(t *contractv1.Terms) []*contractv1.ResultOutcome {
	start, end, _ := Period(t, "terms")
	weeks := int64(end.DaysSince(start)/7 + 1)
	var out []*contractv1.ResultOutcome
	for _, r := range t.GetExpectedResults() {
		expected := r.GetTargetValue()
		if r.GetCadence() == contractv1.ResultCadence_RESULT_CADENCE_WEEKLY {
			expected *= weeks
		}
		out = append(out, &contractv1.ResultOutcome{
			ResultId: r.GetId(), Description: r.GetDescription(), Unit: r.GetUnit(), TargetValue: r.GetTargetValue(),
			ExpectedTotal: expected, AchievedValue: r.GetAchievedValue(), Met: r.GetAchievedValue() >= expected,
		})
	}
	return out
}
