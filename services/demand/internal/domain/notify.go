package domain

import (
	"strings"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
)

// Notifies reports whether a timeline entry is told to the demand's followers: what staff did
// on it (a reply, a status change, a project update), not what residents did themselves (a
// "me too", a rating). The entry of the filing itself is not: the reporter is there when it is
// recorded (online, or in front of the staff taking it down), and nobody supports it yet.
func Notifies(e *demandv1.TimelineEntry) bool {
	switch e.GetKind() {
	case demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_PROJECT_UPDATE:
		return true
	case demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE:
		return e.GetFromStatus() != demandv1.DemandStatus_DEMAND_STATUS_UNSPECIFIED
	default:
		return false
	}
}

// NotificationText is what a follower of the demand titled title is sent about entry: the
// entry's message, introduced by the demand it is about and why they hear of it.
func NotificationText(title string, kind demandv1.RecipientKind, e *demandv1.TimelineEntry) string {
	whose := "您反映的"
	if kind == demandv1.RecipientKind_RECIPIENT_KIND_SUPPORTER {
		whose = "您附议的"
	}
	what := "有新进展"
	switch e.GetKind() {
	case demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY:
		what = "有新回复"
	case demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE:
		if l := StatusLabel(e.GetToStatus()); l != "" {
			what = l
		}
	}
	text := whose + "“" + title + "”" + what
	if m := strings.TrimSpace(e.GetMessage()); m != "" {
		text += "：" + m
	}
	return text
}
