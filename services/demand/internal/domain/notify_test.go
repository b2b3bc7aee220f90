package domain

import (
	"testing"
	"time"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
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

func TestQuietHours(t *testing.T) {
	cst := calendar.TimeZone()
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, cst) }
	night, err := ParseQuietHours("22:00-07:00", nil)
	if err != nil {
		t.Fatal(err)
	}
	lunch, err := ParseQuietHours("12:00-14:30", cst)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		q     QuietHours
		t     time.Time
		held  bool
		until time.Time
	}{
		{"evening, before", night, at(10, 21, 59), false, time.Time{}},
		{"at the start", night, at(10, 22, 0), true, at(11, 7, 0)},
		{"before midnight", night, at(10, 23, 30), true, at(11, 7, 0)},
		{"after midnight", night, at(11, 3, 0), true, at(11, 7, 0)},
		{"at the end", night, at(11, 7, 0), false, time.Time{}},
		{"the month's last night", night, at(31, 23, 0), true, time.Date(2026, 4, 1, 7, 0, 0, 0, cst)},
		{"read in UTC", night, time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC), true, at(11, 7, 0)},
		{"a span within the day", lunch, at(10, 13, 0), true, at(10, 14, 30)},
		{"after it", lunch, at(10, 14, 30), false, time.Time{}},
		{"off", QuietHours{}, at(10, 23, 0), false, time.Time{}},
	}
	for _, tt := range tests {
		until, held := tt.q.Until(tt.t)
		if held != tt.held || !until.Equal(tt.until) {
			t.Errorf("%s: Until(%v) = %v, %v; want %v, %v", tt.name, tt.t, until, held, tt.until, tt.held)
		}
	}
	for _, bad := range []string{"22:00", "22:00-25:00", "22-07", "07:00-07:00", "night"} {
		if _, err := ParseQuietHours(bad, nil); err == nil {
			t.Errorf("ParseQuietHours(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"": "off", "off": "off", " 22:30 - 06:45 ": "22:30-06:45"} {
		q, err := ParseQuietHours(in, nil)
		if err != nil || q.String() != want {
			t.Errorf("ParseQuietHours(%q) = %v, %v; want %s", in, q, err, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	none := func(int64) int64 { return 0 }
	most := func(n int64) int64 { return n - 1 }
	tests := []struct {
		attempt int
		jitter  func(int64) int64
		want    time.Duration
	}{
		{1, none, 30 * time.Second},
		{2, none, time.Minute},
		{4, none, 4 * time.Minute},
		{8, none, time.Hour}, // 64 minutes, capped
		{50, none, time.Hour},
		{0, none, 30 * time.Second},
		{1, most, 15*time.Second + 1},
		{8, most, 30*time.Minute + 1},
	}
	for _, tt := range tests {
		if got := Backoff(tt.attempt, 30*time.Second, time.Hour, tt.jitter); got != tt.want {
			t.Errorf("Backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}
