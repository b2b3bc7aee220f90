package domain

import (
	"fmt"
	"strings"
	"time"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
)

// What the unit responsible for a case is told, and when: the case given to it (opened at its
// level, assigned, moved to it up or down the ladder, handed back to it, reopened), a warning
// that most of the resolve limit has passed, and a co-handling meeting's duty past its date.
// Residents' replies are the demand service's; these go to officials.

// UnitNotice says whether a step of kind is told to the case's unit, and whether it tells of a
// case given to a unit (which is told only when the unit or assignee is not the one last told).
func UnitNotice(kind escalationv1.CaseEventKind) (notify, assignment bool) {
	switch kind {
	case escalationv1.CaseEventKind_CASE_EVENT_KIND_OPENED, escalationv1.CaseEventKind_CASE_EVENT_KIND_CLASSIFIED,
		escalationv1.CaseEventKind_CASE_EVENT_KIND_ASSIGNED, escalationv1.CaseEventKind_CASE_EVENT_KIND_HANDED_BACK,
		escalationv1.CaseEventKind_CASE_EVENT_KIND_ESCALATED, escalationv1.CaseEventKind_CASE_EVENT_KIND_DEESCALATED,
		escalationv1.CaseEventKind_CASE_EVENT_KIND_REOPENED:
		return true, true
	case escalationv1.CaseEventKind_CASE_EVENT_KIND_WARNED, escalationv1.CaseEventKind_CASE_EVENT_KIND_DUTY_OVERDUE:
		return true, false
	}
	return false, false
}

// UnitUrgent: a red case given to a unit (power, gas: the district and the utilities) is sent
// during quiet hours too; everything else waits for the morning.
func UnitUrgent(c *escalationv1.Case, kind escalationv1.CaseEventKind) bool {
	_, assignment := UnitNotice(kind)
	return assignment && c.GetColour() == escalationv1.Colour_COLOUR_RED
}

// DeadlineText is a deadline as officials read it, to the minute, in China Standard Time:
// "2026年12月2日 17:00". A limit in working days ends at midnight, which reads as the end of
// the last day ("2026年12月1日 24:00"), not as the start of the next.
func DeadlineText(t time.Time) string {
	t = t.In(calendar.TimeZone())
	if t.Hour() == 0 && t.Minute() == 0 {
		d := t.Add(-time.Minute)
		return fmt.Sprintf("%d年%d月%d日 24:00", d.Year(), d.Month(), d.Day())
	}
	return fmt.Sprintf("%d年%d月%d日 %02d:%02d", t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute())
}

// UnitMessage is the text the unit of c is sent about a step of kind (reason: the step's).
func UnitMessage(c *escalationv1.Case, kind escalationv1.CaseEventKind, reason string) string {
	title := "“" + c.GetTitle() + "”"
	colour := RuleColour(c.GetColour()).Chinese() + "色"
	switch kind {
	case escalationv1.CaseEventKind_CASE_EVENT_KIND_WARNED:
		return "【时限预警】" + colour + "案件" + title + "的办结时限已过" + fmt.Sprintf("%.0f%%", WarnShare*100) +
			"，请于" + DeadlineText(c.GetResolveDeadline().AsTime()) + "前办结。"
	case escalationv1.CaseEventKind_CASE_EVENT_KIND_DUTY_OVERDUE:
		return "【督办】" + colour + "案件" + title + "联合协商会确定的事项已逾期：" + strings.TrimSpace(strings.TrimPrefix(reason, "overdue duties: ")) + "。"
	}
	var b strings.Builder
	b.WriteString("【" + colour + "清单】案件" + title + "已交由" + c.GetUnitDisplayName())
	if c.GetAssignee() != "" {
		b.WriteString("（" + c.GetAssignee() + "）")
	}
	b.WriteString("办理")
	if kind == escalationv1.CaseEventKind_CASE_EVENT_KIND_REOPENED {
		if r := strings.TrimSpace(reason); r != "" {
			b.WriteString("（" + r + "，已重新办理）")
		} else {
			b.WriteString("（已重新办理）")
		}
	}
	if d := c.GetAcknowledgeDeadline(); d != nil && c.GetAcknowledgeTime() == nil {
		b.WriteString("，请于" + DeadlineText(d.AsTime()) + "前签收")
	}
	if d := c.GetResolveDeadline(); d != nil {
		b.WriteString("，" + DeadlineText(d.AsTime()) + "前办结")
	}
	b.WriteString("。")
	return b.String()
}
