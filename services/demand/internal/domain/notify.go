package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/weekly"
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

// QuietHours is a daily span of local time (22:00–07:00, say) during which messages that are
// not urgent are held until it ends. The zero QuietHours holds nothing.
type QuietHours struct {
	start, end int // minutes of the day; the span may wrap past midnight
	loc        *time.Location
}

// ParseQuietHours reads "HH:MM-HH:MM" in the zone loc (China Standard Time when nil); "" and
// "off" hold nothing. The span may wrap past midnight ("22:00-07:00"); it must not be empty.
func ParseQuietHours(s string, loc *time.Location) (QuietHours, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return QuietHours{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	start, okS := weekly.Minute(strings.TrimSpace(from))
	end, okE := weekly.Minute(strings.TrimSpace(to))
	if !ok || !okS || !okE {
		return QuietHours{}, fmt.Errorf("%q: want HH:MM-HH:MM, e.g. 22:00-07:00, or off", s)
	}
	if start == end {
		return QuietHours{}, errors.New("quiet hours that start when they end: say off for none")
	}
	if loc == nil {
		loc = shanghai()
	}
	return QuietHours{start: start, end: end, loc: loc}, nil
}

// Set reports whether q holds anything.
func (q QuietHours) Set() bool { return q.loc != nil }

func (q QuietHours) String() string {
	if !q.Set() {
		return "off"
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.start/60, q.start%60, q.end/60, q.end%60)
}

// Until returns when the quiet hours around t end, and whether t is within them at all.
func (q QuietHours) Until(t time.Time) (time.Time, bool) {
	if !q.Set() {
		return time.Time{}, false
	}
	local := t.In(q.loc)
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	endOn := func(day int) time.Time { return time.Date(y, mo, day, q.end/60, q.end%60, 0, 0, q.loc) }
	switch {
	case q.start < q.end && m >= q.start && m < q.end:
		return endOn(d), true
	case q.start > q.end && m >= q.start:
		return endOn(d + 1), true // past midnight: tomorrow morning
	case q.start > q.end && m < q.end:
		return endOn(d), true
	}
	return time.Time{}, false
}

// Backoff is how long to wait after the attempt-th failed try (1 for the first) before the
// next: base doubled for each try before, at most max, of which a random part (jitter(n)
// returns a value in [0, n)) is taken off, so the retries of many messages that failed
// together (the gateway down for a minute) do not all come back at once. The wait is at least
// half the doubled delay.
func Backoff(attempt int, base, max time.Duration, jitter func(n int64) int64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if half := int64(d / 2); half > 0 && jitter != nil {
		d -= time.Duration(jitter(half))
	}
	return d
}
