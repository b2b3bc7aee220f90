package domain_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/services/contract/internal/domain"
)

func day(y, m, d int32) *date.Date { return &date.Date{Year: y, Month: m, Day: d} }

func at(y int, m time.Month, d, h int) time.Time {
	return time.Date(y, m, d, h, 0, 0, 0, calendar.TimeZone())
}

// active is an active contract from Wednesday 2 December to 30 December 2026: a weekly
// Wednesday duty of p, a one-off community duty due Tuesday 8 December, a milestone on the 9th.
func active(p string) *contractv1.Contract {
	t := &contractv1.Terms{
		Content: "周三托管", StartDate: day(2026, 12, 2), EndDate: day(2026, 12, 30),
		Duties: []*contractv1.Duty{
			{Id: "d1", Owner: "community", Description: "活动室", When: &contractv1.Duty_DueDate{DueDate: day(2026, 12, 8)}},
			{Id: "d2", Owner: p, Description: "托管", When: &contractv1.Duty_Weekly{Weekly: &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: "15:00", EndTime: "18:00"}}},
		},
		Milestones:      []*contractv1.Milestone{{Id: "m1", Title: "开课", DueDate: day(2026, 12, 9)}},
		ExpectedResults: []*contractv1.ExpectedResult{{Id: "r1", Description: "儿童", TargetValue: 20, Unit: "人", Measure: contractv1.ResultMeasure_RESULT_MEASURE_PEOPLE_SERVED, Cadence: contractv1.ResultCadence_RESULT_CADENCE_WEEKLY}},
	}
	return &contractv1.Contract{
		Status: contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE, Parties: domain.NewParties([]string{p}), InForceVersion: 1,
		Versions:     []*contractv1.ContractVersion{{Number: 1, State: contractv1.VersionState_VERSION_STATE_IN_FORCE, Terms: t}},
		ActivateTime: timestamppb.New(at(2026, 12, 2, 9)), SweptTime: timestamppb.New(at(2026, 12, 2, 9)),
	}
}

func keys(os []domain.Occurrence) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Key)
	}
	return out
}

func TestSchedule(t *testing.T) {
	p := "partnerGroups/01JZ0000000000000000000000"
	pol := domain.Policy{InactiveDays: 14}
	for _, tc := range []struct {
		name     string
		edit     func(c *contractv1.Contract)
		from, to time.Time
		want     []string
		next     time.Time
	}{
		{"nothing yet", nil, at(2026, 12, 2, 9), at(2026, 12, 2, 23), nil, at(2026, 12, 3, 0)},
		{"a missed Wednesday, the room due soon (2 working days)", nil, at(2026, 12, 2, 9), at(2026, 12, 4, 12),
			[]string{"overdue:d2:2026-12-02", "soon:d1:2026-12-08"}, at(2026, 12, 9, 0)},
		{"a Wednesday done", func(c *contractv1.Contract) { c.Versions[0].Terms.Duties[1].LastFulfilledDate = day(2026, 12, 2) },
			at(2026, 12, 2, 9), at(2026, 12, 3, 12), nil, at(2026, 12, 4, 0)},
		{"the room done, the milestone reached: the next Wednesday", func(c *contractv1.Contract) {
			c.Versions[0].Terms.Duties[0].FulfilmentCount = 1
			c.Versions[0].Terms.Milestones[0].ReachedDate = day(2026, 12, 9)
			c.Versions[0].Terms.Duties[1].LastFulfilledDate = day(2026, 12, 9)
		}, at(2026, 12, 3, 0), at(2026, 12, 10, 12), nil, at(2026, 12, 16, 0)},
		{"inactive for 14 days, once", func(c *contractv1.Contract) { c.Versions[0].Terms.Duties[1].LastFulfilledDate = day(2026, 12, 30) },
			at(2026, 12, 15, 12), at(2026, 12, 16, 12), []string{"inactive:" + p + ":2026-12-02"}, at(2026, 12, 31, 0)},
		{"the end: expiry", func(c *contractv1.Contract) { c.Versions[0].Terms.Duties[1].LastFulfilledDate = day(2026, 12, 30) },
			at(2026, 12, 30, 12), at(2026, 12, 31, 1), []string{"end"}, time.Time{}},
		{"not active: nothing", func(c *contractv1.Contract) { c.Status = contractv1.ContractStatus_CONTRACT_STATUS_TERMINATED },
			at(2026, 12, 2, 9), at(2027, 1, 1, 0), nil, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := active(p)
			if tc.edit != nil {
				tc.edit(c)
			}
			due, next := domain.Schedule(c, pol, tc.from, tc.to)
			for _, o := range due {
				// The party reads the alert in Chinese.
				if o.Kind != 0 && strings.IndexFunc(o.Message, func(r rune) bool { return r < unicode.MaxASCII && unicode.IsLetter(r) }) >= 0 {
					t.Errorf("alert %s says %q", o.Key, o.Message)
				}
			}
			got := keys(due)
			if len(got) != len(tc.want) {
				t.Fatalf("due %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("due %v, want %v", got, tc.want)
				}
			}
			if !next.Equal(tc.next) {
				t.Fatalf("next %v, want %v", next, tc.next)
			}
			// Swept through to, nothing falls due again in the same window.
			again, _ := domain.Schedule(c, pol, tc.to, tc.to)
			if len(again) != 0 {
				t.Fatalf("due again: %v", keys(again))
			}
		})
	}
}

func TestEvaluateWeeklyTarget(t *testing.T) {
	c := active("partnerGroups/01JZ0000000000000000000000")
	c.Versions[0].Terms.ExpectedResults[0].AchievedValue = 99
	res := domain.Evaluate(c.Versions[0].Terms)
	if len(res) != 1 || res[0].GetExpectedTotal() != 100 || res[0].GetMet() {
		t.Fatalf("%v", res)
	}
}

// TestTemplatesInChinese: officials and partners read the templates in Chinese. Every text a
// template gives (content, duties, milestones, expected results and their units) is written
// in Chinese characters, with no Latin word left, and a draft from each passes the terms'
// checks.
func TestTemplatesInChinese(t *testing.T) {
	start := calendar.Date{Year: 2026, Month: time.December, Day: 2}
	for _, tp := range domain.Templates(start) {
		t.Run(tp.GetListType().String(), func(t *testing.T) {
			terms := tp.GetTerms()
			texts := map[string]string{"content": terms.GetContent()}
			for i, d := range terms.GetDuties() {
				texts[fmt.Sprintf("duties[%d].description", i)] = d.GetDescription()
			}
			for i, m := range terms.GetMilestones() {
				texts[fmt.Sprintf("milestones[%d].title", i)] = m.GetTitle()
			}
			for i, r := range terms.GetExpectedResults() {
				texts[fmt.Sprintf("expected_results[%d].description", i)] = r.GetDescription()
				texts[fmt.Sprintf("expected_results[%d].unit", i)] = r.GetUnit()
			}
			for field, s := range texts {
				han := false
				for _, r := range s {
					han = han || unicode.Is(unicode.Han, r)
					if r < unicode.MaxASCII && unicode.IsLetter(r) {
						t.Errorf("%s %q has a Latin letter", field, s)
						break
					}
				}
				if !han {
					t.Errorf("%s %q is not written in Chinese", field, s)
				}
			}
			draft := domain.DraftTerms(tp.GetListType(), []string{"partnerGroups/01JAAAAAAAAAAAAAAAAAAAAAAA"}, start)
			if err := domain.CheckTerms(draft, []string{"community", "partnerGroups/01JAAAAAAAAAAAAAAAAAAAAAAA"}, "terms"); err != nil {
				t.Errorf("a draft from the template: %v", err)
			}
		})
	}
}
