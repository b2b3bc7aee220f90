package domain

import (
	"strings"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
)

// The replies residents read on their demand's timeline, one for every step of a case that
// concerns them: the colour, the level and the unit now responsible, and the date they can
// expect (事事有回音). Each takes the case after the step.

// where says who now handles c and by when: "列入绿色清单，由二桥西社区负责办理，预计2026年10月14日前办结".
func where(c *escalationv1.Case) string {
	colour := RuleColour(c.GetColour()).Chinese()
	lead := "负责办理"
	if c.GetColour() != escalationv1.Colour_COLOUR_GREEN {
		lead = "牵头协调办理"
	}
	s := "列入" + colour + "色清单，由" + c.GetUnitDisplayName() + lead
	if d := c.GetResolveDeadline(); d != nil {
		s += "，预计" + ExpectedDate(d.AsTime()) + "前办结"
	}
	return s
}

func because(reason string) string {
	if r := strings.TrimSpace(reason); r != "" {
		return "（原因：" + r + "）"
	}
	return ""
}

// ReplyOpened is the reply when a case opens.
func ReplyOpened(c *escalationv1.Case) string {
	return "您反映的问题已立案办理，" + where(c) + "。"
}

// ReplyClassified is the reply when staff confirm or change the colour.
func ReplyClassified(c *escalationv1.Case, changed bool, reason string) string {
	if !changed {
		return "经核定，您反映的问题" + where(c) + "。"
	}
	return "经核定，您反映的问题改为" + where(c) + "。" + because(reason)
}

// ReplyAssigned is the reply when the case goes to a unit.
func ReplyAssigned(c *escalationv1.Case) string {
	return "您反映的问题已交由" + c.GetUnitDisplayName() + "办理，预计" + ExpectedDate(c.GetResolveDeadline().AsTime()) + "前办结。"
}

// ReplyAccepted is the reply when the unit takes the case on; own is the unit's own words.
func ReplyAccepted(c *escalationv1.Case, own string) string {
	if s := strings.TrimSpace(own); s != "" {
		return s
	}
	return c.GetUnitDisplayName() + "已签收您反映的问题，正在办理，预计" + ExpectedDate(c.GetResolveDeadline().AsTime()) + "前办结。"
}

// ReplyHandedBack is the reply when a department hands the case back: from names it.
func ReplyHandedBack(c *escalationv1.Case, from, reason string) string {
	return from + "反馈该问题不属其职责" + because(reason) + "，已退回" + c.GetUnitDisplayName() + "重新分派，预计" +
		ExpectedDate(c.GetResolveDeadline().AsTime()) + "前办结。"
}

// ReplyExtended is the reply when more time was granted.
func ReplyExtended(c *escalationv1.Case, reason string) string {
	return "因办理需要，您反映的问题办理期限延长至" + ExpectedDate(c.GetResolveDeadline().AsTime()) + "。" + because(reason)
}

// ReplyEscalated is the reply when the case moves up; auto when its interval ran out.
func ReplyEscalated(c *escalationv1.Case, auto bool, reason string) string {
	if auto {
		return "您反映的问题未能在规定时限内解决，已升级，" + where(c) + "。"
	}
	return "您反映的问题已升级，" + where(c) + "。" + because(reason)
}

// ReplyDeescalated is the reply when the case moves down.
func ReplyDeescalated(c *escalationv1.Case, reason string) string {
	return "经核定，您反映的问题改为" + where(c) + "。" + because(reason)
}

// ReplyResolved is the reply when the case is resolved.
func ReplyResolved(note string) string {
	return "您反映的问题已办结：" + strings.TrimSpace(note) + " 欢迎您对办理结果进行评价。"
}

// ReplyClosedUnresolved is the reply when the case closes without a solution.
func ReplyClosedUnresolved(reason string) string {
	return "您反映的问题暂未能解决，现予办结：" + strings.TrimSpace(reason)
}

// ReplyReopened is the reply when an unsatisfied rating reopens the case.
func ReplyReopened(c *escalationv1.Case) string {
	return "您对办理结果不满意，问题已重新办理，" + where(c) + "。"
}

// ReplyMeetingHeld is the reply when a co-handling meeting was held on the case.
func ReplyMeetingHeld(c *escalationv1.Case, m *escalationv1.CaseMeeting) string {
	names := make([]string, 0, len(m.GetParticipants()))
	for _, p := range m.GetParticipants() {
		names = append(names, p.GetDisplayName())
	}
	return c.GetUnitDisplayName() + "组织召开联合协商会（参会：" + strings.Join(names, "、") + "），议定：" + strings.TrimSpace(m.GetDecisions())
}

// ReplyDutyDone is the reply when a meeting's follow-up duty was done.
func ReplyDutyDone(d *escalationv1.Duty) string {
	return "协商会议定事项已完成：" + strings.TrimSpace(d.GetDescription()) + "（" + d.GetOwner() + "）。"
}
