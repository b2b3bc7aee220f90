package domain

import demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"

// meetingChannels pairs each meeting kind with the channel of the demands raised in it.
var meetingChannels = map[demandv1.MeetingKind]demandv1.Channel{
	demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY:            demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING,
	demandv1.MeetingKind_MEETING_KIND_ELDERS_COUNCIL:        demandv1.Channel_CHANNEL_ELDERS_COUNCIL,
	demandv1.MeetingKind_MEETING_KIND_GRID_NIGHT_TALK:       demandv1.Channel_CHANNEL_GRID_NIGHT_TALK,
	demandv1.MeetingKind_MEETING_KIND_PARTNER_JOINT_MEETING: demandv1.Channel_CHANNEL_PARTNER_JOINT_MEETING,
}

// MeetingChannel is the demand channel of a meeting kind (FOURTH_DAY →
// CHANNEL_FOURTH_DAY_MEETING, …); CHANNEL_UNSPECIFIED for an unspecified or unknown kind.
func MeetingChannel(k demandv1.MeetingKind) demandv1.Channel {
	return meetingChannels[k]
}

// IsMeetingChannel reports whether demands of this channel are raised at a meeting of some kind,
// so that they may name the meeting.
func IsMeetingChannel(c demandv1.Channel) bool {
	for _, mc := range meetingChannels {
		if mc == c {
			return true
		}
	}
	return false
}
