package domain

import (
	"testing"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
)

func TestMeetingChannel(t *testing.T) {
	tests := []struct {
		kind demandv1.MeetingKind
		want demandv1.Channel
	}{
		{demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING},
		{demandv1.MeetingKind_MEETING_KIND_ELDERS_COUNCIL, demandv1.Channel_CHANNEL_ELDERS_COUNCIL},
		{demandv1.MeetingKind_MEETING_KIND_GRID_NIGHT_TALK, demandv1.Channel_CHANNEL_GRID_NIGHT_TALK},
		{demandv1.MeetingKind_MEETING_KIND_PARTNER_JOINT_MEETING, demandv1.Channel_CHANNEL_PARTNER_JOINT_MEETING},
		{demandv1.MeetingKind_MEETING_KIND_UNSPECIFIED, demandv1.Channel_CHANNEL_UNSPECIFIED},
		{demandv1.MeetingKind(99), demandv1.Channel_CHANNEL_UNSPECIFIED},
	}
	for _, tt := range tests {
		if got := MeetingChannel(tt.kind); got != tt.want {
			t.Errorf("MeetingChannel(%v) = %v, want %v", tt.kind, got, tt.want)
		}
	}
	// Every defined meeting kind has a channel, so a new kind cannot be forgotten here.
	for v := range demandv1.MeetingKind_name {
		if k := demandv1.MeetingKind(v); k != demandv1.MeetingKind_MEETING_KIND_UNSPECIFIED && MeetingChannel(k) == demandv1.Channel_CHANNEL_UNSPECIFIED {
			t.Errorf("MeetingChannel(%v) has no channel", k)
		}
	}
}

func TestIsMeetingChannel(t *testing.T) {
	meeting := map[demandv1.Channel]bool{
		demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING:    true,
		demandv1.Channel_CHANNEL_ELDERS_COUNCIL:        true,
		demandv1.Channel_CHANNEL_GRID_NIGHT_TALK:       true,
		demandv1.Channel_CHANNEL_PARTNER_JOINT_MEETING: true,
	}
	for v := range int32(len(demandv1.Channel_name) + 1) {
		c := demandv1.Channel(v)
		if got := IsMeetingChannel(c); got != meeting[c] {
			t.Errorf("IsMeetingChannel(%v) = %v, want %v", c, got, meeting[c])
		}
	}
}
