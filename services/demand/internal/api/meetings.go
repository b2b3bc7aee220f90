package api

import (
	"context"
	"errors"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/idempotency"
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
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetMeeting()
	if err := s.checkMeetingFields("meeting", in); err != nil {
		return nil, err
	}
	if !s.canHandle(p, in.GetCommunityCode()) {
		return nil, apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "community "+in.GetCommunityCode()+" is outside your region scope")
	}
	now := timestamppb.New(s.now())
	rec := proto.Clone(in).(*demandv1.Meeting)
	rec.Name, rec.DemandCount, rec.Etag = "meetings/"+newID(), 0, ""
	rec.CreateTime, rec.UpdateTime = now, now
	out, _, err := idempotency.Create(ctx, s.db, demandv1.DemandService_CreateMeeting_FullMethodName, req.GetRequestId(), req,
		func(ctx context.Context, tx sqlstore.Tx) (*demandv1.Meeting, error) {
			if err := s.store.InsertMeeting(ctx, tx, rec); err != nil {
				return nil, err
			}
			return proto.Clone(rec).(*demandv1.Meeting), nil
		})
	if errors.Is(err, sqlstore.ErrAlreadyExists) {
		return nil, apierr.AlreadyExists("the 逢四说事 meeting of " + rec.GetCommunityCode() + " on " + rec.GetMeetingDate())
	}
	if err != nil {
		return nil, apierr.FromCall(err, rec.GetName())
	}
	auth.AuditWrite(ctx, s.log, p, out.GetName(), demandv1.DemandService_CreateMeeting_FullMethodName)
	out.Etag = aip.Etag(out.GetName(), 1)
	return &demandv1.CreateMeetingResponse{Meeting: out}, nil
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
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m, v, err := s.loadMeeting(ctx, s.db.Reads(), p, req.GetName())
	if err != nil {
		return nil, err
	}
	m.Etag = aip.Etag(m.GetName(), v)
	return &demandv1.GetMeetingResponse{Meeting: m}, nil
}

func (s *Server) loadMeeting(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*demandv1.Meeting, int64, error) {
	m, v, err := s.store.GetMeeting(ctx, q, name)
	if err != nil {
		return nil, 0, apierr.FromCall(err, name)
	}
	if !s.seesCommunity(p, m.GetCommunityCode()) {
		return nil, 0, apierr.NotFound(name)
	}
	return m, v, nil
}

// ListMeetings implements demandv1.DemandServiceServer.
func (s *Server) ListMeetings(ctx context.Context, req *demandv1.ListMeetingsRequest) (*demandv1.ListMeetingsResponse, error) {
	p, err := principal(ctx)
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
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetMeeting()
	name := in.GetName()
	if !validName(name, "meetings/") {
		return nil, apierr.InvalidArgument("meeting.name", "must be meetings/{id}")
	}
	var out, next *demandv1.Meeting
	var version int64
	err = s.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		cur, v, err := s.loadMeeting(ctx, tx, p, name)
		if err != nil {
			return err
		}
		if !s.canHandle(p, cur.GetCommunityCode()) {
			return permissionDenied("change " + name)
		}
		if !aip.EtagMatches(in.GetEtag(), name, v) {
			return apierr.StaleEtag(name)
		}
		next = proto.Clone(cur).(*demandv1.Meeting)
		if err := aip.ApplyFieldMask(next, in, req.GetUpdateMask(), meetingUpdatable); err != nil {
			return apierr.InvalidArgument("update_mask", err.Error())
		}
		if err := protovalidate.Validate(&demandv1.CreateMeetingRequest{Meeting: next}); err != nil {
			return apierr.FromValidation(err)
		}
		if err := s.checkMeetingFields("meeting", next); err != nil {
			return err
		}
		next.UpdateTime = timestamppb.New(s.now())
		if version, err = s.store.UpdateMeeting(ctx, tx, next, v); err != nil {
			return err
		}
		out = next
		return nil
	})
	if errors.Is(err, sqlstore.ErrAlreadyExists) && next != nil {
		return nil, apierr.AlreadyExists("the 逢四说事 meeting of " + next.GetCommunityCode() + " on " + next.GetMeetingDate())
	}
	if err != nil {
		return nil, apierr.FromCall(err, name)
	}
	auth.AuditWrite(ctx, s.log, p, name, demandv1.DemandService_UpdateMeeting_FullMethodName)
	out.Etag = aip.Etag(name, version)
	return &demandv1.UpdateMeetingResponse{Meeting: out}, nil
}

// ListMeetingDays implements demandv1.DemandServiceServer.
func (s *Server) ListMeetingDays(ctx context.Context, req *demandv1.ListMeetingDaysRequest) (*demandv1.ListMeetingDaysResponse, error) {
	p, err := principal(ctx)
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
