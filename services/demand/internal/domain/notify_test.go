package domain

import (
	"testing"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
)

func TestNotifies(t *testing.T) {
	e := func(k demandv1.TimelineEntryKind, from demandv1.DemandStatus) *demandv1.TimelineEntry {
		return &demandv1.TimelineEntry{Kind: k, FromStatus: from, ToStatus: accepted}
	}
	tests := []struct {
		name string
		e    *demandv1.TimelineEntry
		want bool
	}{
		{"reply", e(demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY, accepted), true},
		{"status change", e(demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE, submitted), true},
		{"project update", e(demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_PROJECT_UPDATE, inProject), true},
		{"the filing", e(demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE, 0), false},
		{"a supporter", e(demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_SUPPORT, 0), false},
		{"a rating", e(demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_RATING, resolved), false},
		{"unspecified", e(0, accepted), false},
	}
	for _, tt := range tests {
		if got := Notifies(tt.e); got != tt.want {
			t.Errorf("%s: Notifies = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNotificationText(t *testing.T) {
	reply := &demandv1.TimelineEntry{Kind: demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY, Message: "周三前上门查看。"}
	moved := &demandv1.TimelineEntry{Kind: demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE, FromStatus: submitted, ToStatus: accepted, Message: "已受理"}
	project := &demandv1.TimelineEntry{Kind: demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_PROJECT_UPDATE, Message: "项目《四点半课堂》实施中：本周开课"}
	tests := []struct {
		kind demandv1.RecipientKind
		e    *demandv1.TimelineEntry
		want string
	}{
		{demandv1.RecipientKind_RECIPIENT_KIND_REPORTER, reply, "您反映的“路灯不亮”有新回复：周三前上门查看。"},
		{demandv1.RecipientKind_RECIPIENT_KIND_SUPPORTER, reply, "您附议的“路灯不亮”有新回复：周三前上门查看。"},
		{demandv1.RecipientKind_RECIPIENT_KIND_REPORTER, moved, "您反映的“路灯不亮”已受理：已受理"},
		{demandv1.RecipientKind_RECIPIENT_KIND_REPORTER, project, "您反映的“路灯不亮”有新进展：项目《四点半课堂》实施中：本周开课"},
		{demandv1.RecipientKind_RECIPIENT_KIND_REPORTER, &demandv1.TimelineEntry{Kind: demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY}, "您反映的“路灯不亮”有新回复"},
	}
	for _, tt := range tests {
		if got := NotificationText("路灯不亮", tt.kind, tt.e); got != tt.want {
			t.Errorf("NotificationText(%v, %v) = %q, want %q", tt.kind, tt.e.GetKind(), got, tt.want)
		}
	}
}
