package domain

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/proto"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
)

// Policy is the district's follow-up settings.
type Policy struct {
	// DueSoonWorkdays: a one-off duty is "due soon" this many working days before its date
	// (0: never warned).
	DueSoonWorkdays int
	// InactiveDays: a partner of an active contract with no activity or fulfilment for this
	// many days is inactive.
	InactiveDays int
	// Calendar counts working days; nil counts Monday to Friday.
	Calendar *calendar.Calendar
}

// Defaults for Policy's zero fields.
const (
	DefaultDueSoonWorkdays = 2
	DefaultInactiveDays    = 14
)

// WithDefaults fills p's zero fields.
func (p Policy) WithDefaults() Policy {
	if p.DueSoonWorkdays == 0 {
		p.DueSoonWorkdays = DefaultDueSoonWorkdays
	}
	if p.InactiveDays == 0 {
		p.InactiveDays = DefaultInactiveDays
	}
	if p.Calendar == nil {
		p.Calendar = calendar.New(nil, nil)
	}
	return p
}

// Occurrence is one thing that falls due on an active contract at a moment: an alert, or the
// contract's end (Expire).
type Occurrence struct {
	// Key names it uniquely within the contract: an alert is raised once per key.
	Key string
	At  time.Time
	// Expire: the contract's end date passed.
	Expire      bool
	Kind        contractv1.AlertKind
	Party       string
	DutyID      string
	MilestoneID string
	Date        calendar.Date
	Message     string
}

// Schedule lists what falls due on c (active) at moments in (from, to], oldest first, and the
// earliest moment after to at which something will (zero when nothing will). It reads c's
// state now: a duty fulfilled, a milestone reached or a partner active again yields nothing.
func Schedule(c *contractv1.Contract, p Policy, from, to time.Time) (due []Occurrence, next time.Time) {
	if c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE {
		return nil, time.Time{}
	}
	t := Current(c)
	start, end, err := Period(t, "terms")
	if err != nil {
		return nil, time.Time{}
	}
	p = p.WithDefaults()
	consider := func(o Occurrence) {
		switch {
		case !o.At.After(from):
		case !o.At.After(to):
			due = append(due, o)
		case next.IsZero() || o.At.Before(next):
			next = o.At
		}
	}
	for _, d := range t.GetDuties() {
		if d.GetDueDate() != nil {
			if d.GetFulfilmentCount() > 0 {
				continue
			}
			day, err := civil(d.GetDueDate(), "")
			if err != nil {
				continue
			}
			if n := p.DueSoonWorkdays; n > 0 {
				soon := day
				for n > 0 {
					soon = soon.AddDays(-1)
					if p.Calendar.IsWorkday(soon) {
						n--
					}
				}
				consider(Occurrence{Key: "soon:" + d.GetId() + ":" + day.String(), At: soon.Start(), Kind: contractv1.AlertKind_ALERT_KIND_DUTY_DUE_SOON,
					Party: d.GetOwner(), DutyID: d.GetId(), Date: day,
					Message: fmt.Sprintf("职责“%s”将于%s到期", d.GetDescription(), day)})
			}
			consider(Occurrence{Key: "overdue:" + d.GetId() + ":" + day.String(), At: day.AddDays(1).Start(), Kind: contractv1.AlertKind_ALERT_KIND_DUTY_OVERDUE,
				Party: d.GetOwner(), DutyID: d.GetId(), Date: day,
				Message: fmt.Sprintf("职责“%s”已于%s到期，尚未登记完成", d.GetDescription(), day)})
			continue
		}
		w := d.GetWeekly()
		if w == nil {
			continue
		}
		last, _ := civil(d.GetLastFulfilledDate(), "")
		// The occurrences whose moment (the day after) can lie after from: from the day before
		// from's day, or the start.
		first := calendar.DateOf(from).AddDays(-1)
		if first.Compare(start) < 0 {
			first = start
		}
		for first.Compare(end) <= 0 && isoWeekday(first) != int(w.GetWeekday()) {
			first = first.AddDays(1)
		}
		for day := first; day.Compare(end) <= 0; day = day.AddDays(7) {
			at := day.AddDays(1).Start()
			if !last.IsZero() && last.Compare(day) >= 0 {
				continue // done on the day or since
			}
			if at.After(to) {
				consider(Occurrence{At: at})
				break
			}
			consider(Occurrence{Key: "overdue:" + d.GetId() + ":" + day.String(), At: at, Kind: contractv1.AlertKind_ALERT_KIND_DUTY_OVERDUE,
				Party: d.GetOwner(), DutyID: d.GetId(), Date: day,
				Message: fmt.Sprintf("职责“%s”（每%s %s–%s）%s未登记完成", d.GetDescription(),
					weekdayLabels[w.GetWeekday()], w.GetStartTime(), w.GetEndTime(), day)})
		}
	}
	for _, m := range t.GetMilestones() {
		if m.GetReachedDate() != nil {
			continue
		}
		day, err := civil(m.GetDueDate(), "")
		if err != nil {
			continue
		}
		consider(Occurrence{Key: "missed:" + m.GetId() + ":" + day.String(), At: day.AddDays(1).Start(), Kind: contractv1.AlertKind_ALERT_KIND_MILESTONE_MISSED,
			Party: CommunityParty, MilestoneID: m.GetId(), Date: day,
			Message: fmt.Sprintf("节点“%s”应于%s达成，尚未达成", m.GetTitle(), day)})
	}
	activated := calendar.DateOf(c.GetActivateTime().AsTime())
	for _, party := range c.GetParties() {
		if party.GetParty() == CommunityParty {
			continue
		}
		base := activated
		if last, err := civil(party.GetLastActiveDate(), ""); err == nil && last.Compare(base) > 0 {
			base = last
		}
		at := base.AddDays(p.InactiveDays).Start()
		if base.AddDays(p.InactiveDays).Compare(end) > 0 {
			continue // the contract ends first
		}
		consider(Occurrence{Key: "inactive:" + party.GetParty() + ":" + base.String(), At: at, Kind: contractv1.AlertKind_ALERT_KIND_PARTNER_INACTIVE,
			Party: party.GetParty(), Date: base,
			Message: fmt.Sprintf("自%s起已%d天未登记服务活动或履约", base, p.InactiveDays)})
	}
	consider(Occurrence{Key: "end", At: end.AddDays(1).Start(), Expire: true, Date: end})
	slices.SortStableFunc(due, func(a, b Occurrence) int { return a.At.Compare(b.At) })
	return due, next
}

// weekdayLabels are the days of the week as an alert says them ("周三").
var weekdayLabels = map[typev1.Weekday]string{
	typev1.Weekday_WEEKDAY_MONDAY: "周一", typev1.Weekday_WEEKDAY_TUESDAY: "周二", typev1.Weekday_WEEKDAY_WEDNESDAY: "周三",
	typev1.Weekday_WEEKDAY_THURSDAY: "周四", typev1.Weekday_WEEKDAY_FRIDAY: "周五", typev1.Weekday_WEEKDAY_SATURDAY: "周六",
	typev1.Weekday_WEEKDAY_SUNDAY: "周日",
}

// NextDue is the moment the sweeper must next look at c: the earliest occurrence after its
// swept time (which may already have passed); nil when nothing will fall due.
func NextDue(c *contractv1.Contract, p Policy) *time.Time {
	from := c.GetSweptTime().AsTime()
	due, next := Schedule(c, p, from, from)
	if len(due) > 0 {
		next = due[0].At
	}
	if next.IsZero() {
		return nil
	}
	return &next
}

// MarkActive records that party delivered something on day (the inactive-partner clock
// restarts from it).
func MarkActive(c *contractv1.Contract, party string, day *date.Date) {
	for _, p := range c.GetParties() {
		if p.GetParty() == party && later(day, p.GetLastActiveDate()) {
			p.LastActiveDate = cloneDate(day)
		}
	}
}

// later reports whether a is after b (b nil: a is set).
func later(a, b *date.Date) bool {
	if a == nil {
		return false
	}
	if b == nil {
		return true
	}
	x := [3]int32{a.GetYear(), a.GetMonth(), a.GetDay()}
	y := [3]int32{b.GetYear(), b.GetMonth(), b.GetDay()}
	for i := range x {
		if x[i] != y[i] {
			return x[i] > y[i]
		}
	}
	return false
}

func cloneDate(d *date.Date) *date.Date {
	if d == nil {
		return nil
	}
	return proto.Clone(d).(*date.Date)
}
