package api

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
)

// meetingUpdatable are the fields filled in during and after a meeting.
var meetingUpdatable = []string{"host", "attendee_count", "minutes", "meeting_date"}

// maxCalendarDays bounds ListMeetingDays to a year.
const maxCalendarDays = 366

// CreateMeeting implements demandv1.DemandServiceServer.
func (s *Server) CreateMeeting(ctx context.Context, req *demandv1.CreateMeetingRequest) (*demandv1.CreateMeetingResponse, error) {
	in := req.GetMeeting()
	if err := s.checkMeetingFields("meeting", in); err != nil {
		return nil, err
	}
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Meeting]{
		Method:    demandv1.DemandService_CreateMeeting_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Allow: func(p auth.Principal, _ *demandv1.Meeting) error {
			if !s.canHandle(p, in.GetCommunityCode()) {
				return apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "community "+in.GetCommunityCode()+" is outside your region scope")
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *demandv1.Meeting, _ int64) (*demandv1.Meeting, int64, error) {
			now := timestamppb.New(t.Now)
			rec := proto.Clone(in).(*demandv1.Meeting)
			rec.Name, rec.DemandCount, rec.Etag = aip.NewName("meetings"), 0, ""
			rec.CreateTime, rec.UpdateTime = now, now
			if err := s.store.InsertMeeting(ctx, t, rec); err != nil {
				return nil, 0, err
			}
			if err := emitMeeting(ctx, t, rec); err != nil {
				return nil, 0, err
			}
			return proto.Clone(rec).(*demandv1.Meeting), 1, nil
		},
		Conflict: func() error { return meetingHeld(in) },
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.CreateMeetingResponse{Meeting: out}, nil
}

// emitMeeting publishes m's kind, community and date (MeetingRecorded) with the write: no host,
// no minutes.
func emitMeeting(ctx context.Context, t *resource.Tx, m *demandv1.Meeting) error {
	return t.Emit(ctx, m.GetName(), m.GetCommunityCode(), &demandv1.MeetingRecorded{
		Name: m.GetName(), CommunityCode: m.GetCommunityCode(), Kind: m.GetKind(), MeetingDate: m.GetMeetingDate(),
	})
}

// meetingHeld is the error for a second 逢四说事 meeting of m's community on m's day.
func meetingHeld(m *demandv1.Meeting) error {
	return apierr.AlreadyExists("the 逢四说事 meeting of " + m.GetCommunityCode() + " on " + m.GetMeetingDate())
}

// checkMeetingFields applies the rules the proto cannot state: a real date, a community of the
// tree, and 逢四说事 only on its days.
func (s *Server) checkMeetingFields(field string, m *demandv1.Meeting) error {
	if err := s.checkCommunity(field+".community_code", m.GetCommunityCode()); err != nil {
		return err
	}
	day, err := domain.ParseDate(m.GetMeetingDate())
	if err != nil {
		return apierr.InvalidArgument(field+".meeting_date", err.Error())
	}
	if m.GetKind() == demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY {
		if d := day.Day(); d != 4 && d != 14 && d != 24 {
			return apierr.InvalidArgument(field+".meeting_date", "逢四说事 meets on the 4th, 14th and 24th; "+m.GetMeetingDate()+" is not one of them")
		}
	}
	return nil
}

// GetMeeting implements demandv1.DemandServiceServer.
func (s *Server) GetMeeting(ctx context.Context, req *demandv1.GetMeetingRequest) (*demandv1.GetMeetingResponse, error) {
	m, err := resource.Get(ctx, s.res, req.GetName(), s.loadMeeting, nil)
	if err != nil {
		return nil, err
	}
	return &demandv1.GetMeetingResponse{Meeting: m}, nil
}

// loadMeeting is the resource.Loader of meetings: a meeting of a community the caller does
// not see does not exist for them.
func (s *Server) loadMeeting(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*demandv1.Meeting, int64, error) {
	return inCommunity[*demandv1.Meeting](s, p)(s.store.GetMeeting(ctx, q, name))
}

// ListMeetings implements demandv1.DemandServiceServer.
func (s *Server) ListMeetings(ctx context.Context, req *demandv1.ListMeetingsRequest) (*demandv1.ListMeetingsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	listed, next, err := s.store.ListMeetings(ctx, s.db.Reads(), store.MeetingListParams{
		Filter: req.GetFilter(), PageToken: req.GetPageToken(),
		PageSize: aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize), Scope: s.communities(p),
	})
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	resp := &demandv1.ListMeetingsResponse{NextPageToken: next}
	for _, l := range listed {
		l.Rec.Etag = aip.Etag(l.Rec.GetName(), l.Version)
		resp.Meetings = append(resp.Meetings, l.Rec)
	}
	return resp, nil
}

// UpdateMeeting implements demandv1.DemandServiceServer.
func (s *Server) UpdateMeeting(ctx context.Context, req *demandv1.UpdateMeetingRequest) (*demandv1.UpdateMeetingResponse, error) {
	in := req.GetMeeting()
	name := in.GetName()
	if !aip.ValidName(name, "meetings") {
		return nil, apierr.InvalidArgument("meeting.name", "must be meetings/{id}")
	}
	var next *demandv1.Meeting
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Meeting]{
		Method: demandv1.DemandService_UpdateMeeting_FullMethodName,
		Name:   name, Etag: in.GetEtag(), Load: s.loadMeeting,
		Allow: func(p auth.Principal, cur *demandv1.Meeting) error {
			return s.allowHandle(p, cur.GetCommunityCode(), "change "+name)
		},
		Apply: func(ctx context.Context, t *resource.Tx, cur *demandv1.Meeting, v int64) (*demandv1.Meeting, int64, error) {
			var err error
			if next, err = resource.Merge("meeting", cur, in, req.GetUpdateMask(), meetingUpdatable); err != nil {
				return nil, 0, err
			}
			if err := s.checkMeetingFields("meeting", next); err != nil {
				return nil, 0, err
			}
			next.UpdateTime = timestamppb.New(t.Now)
			version, err := s.store.UpdateMeeting(ctx, t, next, v)
			if err != nil {
				return nil, 0, err
			}
			// A corrected date moves the meeting in reporting's figures; the other fields
			// (host, attendance, minutes) are no figure of anyone's.
			if next.GetMeetingDate() != cur.GetMeetingDate() {
				if err := emitMeeting(ctx, t, next); err != nil {
					return nil, 0, err
				}
			}
			return next, version, nil
		},
		Conflict: func() error { return meetingHeld(next) },
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.UpdateMeetingResponse{Meeting: out}, nil
}

// ListMeetingDays implements demandv1.DemandServiceServer.
func (s *Server) ListMeetingDays(ctx context.Context, req *demandv1.ListMeetingDaysRequest) (*demandv1.ListMeetingDaysResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkCommunity("community_code", req.GetCommunityCode()); err != nil {
		return nil, err
	}
	if !s.seesCommunity(p, req.GetCommunityCode()) {
		return nil, apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "community "+req.GetCommunityCode()+" is outside your region scope")
	}
	start, err := domain.ParseDate(req.GetStartDate())
	if err != nil {
		return nil, apierr.InvalidArgument("start_date", err.Error())
	}
	end, err := domain.ParseDate(req.GetEndDate())
	if err != nil {
		return nil, apierr.InvalidArgument("end_date", err.Error())
	}
	if end.Before(start) {
		return nil, apierr.InvalidArgument("end_date", "is before start_date")
	}
	if end.Sub(start).Hours() > 24*maxCalendarDays {
		return nil, apierr.InvalidArgument("end_date", "is more than 366 days after start_date")
	}
	held, err := s.store.FourthDayMeetings(ctx, s.db.Reads(), req.GetCommunityCode(), req.GetStartDate(), req.GetEndDate())
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	resp := &demandv1.ListMeetingDaysResponse{}
	for _, d := range domain.MeetingDays(start, end) {
		resp.Days = append(resp.Days, &demandv1.MeetingDay{Date: d, Meeting: held[d]})
	}
	return resp, nil
}
