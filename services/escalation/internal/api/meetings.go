package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
)

// Co-handling meetings (联合协商会) of yellow and red cases: the parties that must act together
// at one table, their decisions and follow-up duties. A meeting is changed only through its
// case, whose row every write holds first; the case carries the earliest open duty's date,
// which the sweeper watches.

// allowOnCase: the unit responsible for the case or an official of its level or above.
func (s *Server) allowOnCase(p auth.Principal, c *escalationv1.Case, what string) error {
	if s.actsForUnit(p, c) {
		return nil
	}
	return s.allowAtLevel(p, c, what)
}

// checkMeeting checks what the proto cannot: real dates, a meeting not in the future, duties
// due on or after it and owned by one of its parties.
func checkMeeting(m *escalationv1.CaseMeeting, now time.Time) error {
	held, err := calendar.ParseDate(m.GetMeetingDate())
	if err != nil {
		return apierr.InvalidArgument("meeting.meeting_date", err.Error())
	}
	if held.Compare(calendar.DateOf(now)) > 0 {
		return apierr.InvalidArgument("meeting.meeting_date", m.GetMeetingDate()+" is in the future: record a meeting once it is held")
	}
	var parties []string
	for _, p := range m.GetParticipants() {
		parties = append(parties, p.GetDisplayName())
	}
	for i, d := range m.GetDuties() {
		field := fmt.Sprintf("meeting.duties[%d]", i)
		due, err := calendar.ParseDate(d.GetDueDate())
		if err != nil {
			return apierr.InvalidArgument(field+".due_date", err.Error())
		}
		if due.Compare(held) < 0 {
			return apierr.InvalidArgument(field+".due_date", d.GetDueDate()+" is before the meeting")
		}
		if !slices.Contains(parties, d.GetOwner()) {
			return apierr.InvalidArgument(field+".owner", d.GetOwner()+" is not one of the meeting's participants")
		}
	}
	return nil
}

// CreateCaseMeeting implements escalationv1.CaseServiceServer.
func (s *Server) CreateCaseMeeting(ctx context.Context, req *escalationv1.CreateCaseMeetingRequest) (*escalationv1.CreateCaseMeetingResponse, error) {
	if err := checkMeeting(req.GetMeeting(), s.now()); err != nil {
		return nil, err
	}
	var (
		c *escalationv1.Case
		v int64
	)
	out, err := resource.Run(ctx, s.res, resource.Change[*escalationv1.CaseMeeting]{
		Method:    escalationv1.CaseService_CreateCaseMeeting_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Refs: func(ctx context.Context, t *resource.Tx, _ *escalationv1.CaseMeeting) error {
			var err error
			c, v, err = s.lockedCase(ctx, t, t.Caller, req.GetParent())
			if errors.Is(err, sqlstore.ErrNotFound) {
				return apierr.NotFound(req.GetParent())
			}
			return err
		},
		Allow: func(p auth.Principal, _ *escalationv1.CaseMeeting) error {
			return s.allowOnCase(p, c, "record a meeting on "+c.GetName())
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *escalationv1.CaseMeeting, _ int64) (*escalationv1.CaseMeeting, int64, error) {
			if err := mustBeOpen(c); err != nil {
				return nil, 0, err
			}
			if c.GetColour() == escalationv1.Colour_COLOUR_GREEN {
				return nil, 0, apierr.FailedPrecondition("GREEN_CASE", c.GetName()+" is green, the community's own: co-handling meetings are for yellow and red cases")
			}
			m := proto.Clone(req.GetMeeting()).(*escalationv1.CaseMeeting)
			m.Name = c.GetName() + "/meetings/" + aip.NewID()
			m.Recorder, m.Etag = t.Caller.Subject, ""
			m.CreateTime, m.UpdateTime = timestamppb.New(t.Now), timestamppb.New(t.Now)
			for i, d := range m.GetDuties() {
				d.Id, d.Done, d.DoneTime, d.OverdueReported = strconv.Itoa(i+1), false, nil, false
			}
			if err := s.store.InsertMeeting(ctx, t, m); err != nil {
				return nil, 0, err
			}
			if err := s.watchDuties(ctx, t, c, m); err != nil {
				return nil, 0, err
			}
			if _, err := s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_MEETING_HELD, "", domain.ReplyMeetingHeld(c, m)); err != nil {
				return nil, 0, err
			}
			return m, 1, nil
		},
		View: viewMeeting,
	})
	if err != nil {
		return nil, err
	}
	return &escalationv1.CreateCaseMeetingResponse{Meeting: out}, nil
}

func viewMeeting(_ context.Context, _ auth.Principal, m *escalationv1.CaseMeeting, version int64) {
	m.Etag = aip.Etag(m.GetName(), version)
}

// watchDuties sets c's next duty due time from all its meetings; changed, when set, is a
// meeting of this write, which counts as it is in hand.
func (s *Server) watchDuties(ctx context.Context, q sqlstore.Querier, c *escalationv1.Case, changed *escalationv1.CaseMeeting) error {
	all, _, err := s.store.ListMeetings(ctx, q, c.GetName(), 0, "")
	if err != nil {
		return err
	}
	meetings := make([]*escalationv1.CaseMeeting, 0, len(all)+1)
	seen := false
	for _, l := range all {
		if changed != nil && l.Rec.GetName() == changed.GetName() {
			meetings, seen = append(meetings, changed), true
			continue
		}
		meetings = append(meetings, l.Rec)
	}
	if changed != nil && !seen {
		meetings = append(meetings, changed)
	}
	c.NextDutyDueTime = domain.NextDutyDue(meetings)
	return nil
}

// ListCaseMeetings implements escalationv1.CaseServiceServer.
func (s *Server) ListCaseMeetings(ctx context.Context, req *escalationv1.ListCaseMeetingsRequest) (*escalationv1.ListCaseMeetingsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.Reads()
	if _, _, err := s.loadCase(ctx, q, p, req.GetParent()); err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	page, next, err := s.store.ListMeetings(ctx, q, req.GetParent(), aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize), req.GetPageToken())
	if err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	resp := &escalationv1.ListCaseMeetingsResponse{NextPageToken: next}
	for _, l := range page {
		viewMeeting(ctx, p, l.Rec, l.Version)
		resp.Meetings = append(resp.Meetings, l.Rec)
	}
	return resp, nil
}

// CompleteMeetingDuty implements escalationv1.CaseServiceServer.
func (s *Server) CompleteMeetingDuty(ctx context.Context, req *escalationv1.CompleteMeetingDutyRequest) (*escalationv1.CompleteMeetingDutyResponse, error) {
	caseName, _, _ := strings.Cut(req.GetName(), "/meetings/")
	var (
		c  *escalationv1.Case
		cv int64
	)
	out, err := resource.Run(ctx, s.res, resource.Change[*escalationv1.CaseMeeting]{
		Method: escalationv1.CaseService_CompleteMeetingDuty_FullMethodName,
		Name:   req.GetName(), Etag: req.GetEtag(),
		// The meeting is seen through its case, whose row the change holds.
		Load: func(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*escalationv1.CaseMeeting, int64, error) {
			var err error
			if c, cv, err = s.lockedCase(ctx, q, p, caseName); err != nil {
				return nil, 0, err
			}
			return s.store.GetMeeting(ctx, q, name)
		},
		Allow: func(p auth.Principal, _ *escalationv1.CaseMeeting) error {
			return s.allowOnCase(p, c, "report a duty of "+req.GetName()+" done")
		},
		Apply: func(ctx context.Context, t *resource.Tx, m *escalationv1.CaseMeeting, v int64) (*escalationv1.CaseMeeting, int64, error) {
			if err := mustBeOpen(c); err != nil {
				return nil, 0, err
			}
			i := slices.IndexFunc(m.GetDuties(), func(d *escalationv1.Duty) bool { return d.GetId() == req.GetDutyId() })
			if i < 0 {
				return nil, 0, apierr.InvalidArgument("duty_id", req.GetName()+" has no duty "+req.GetDutyId())
			}
			d := m.GetDuties()[i]
			if d.GetDone() {
				return nil, 0, apierr.FailedPrecondition("DUTY_DONE", "duty "+d.GetId()+" of "+req.GetName()+" is already done")
			}
			d.Done, d.DoneTime = true, timestamppb.New(t.Now)
			m.UpdateTime = timestamppb.New(t.Now)
			nv, err := s.store.UpdateMeeting(ctx, t, m, v)
			if err != nil {
				return nil, 0, err
			}
			if err := s.watchDuties(ctx, t, c, m); err != nil {
				return nil, 0, err
			}
			if _, err := s.step(ctx, t, c, cv, escalationv1.CaseEventKind_CASE_EVENT_KIND_DUTY_DONE, "", domain.ReplyDutyDone(d)); err != nil {
				return nil, 0, err
			}
			return m, nv, nil
		},
		View: viewMeeting,
	})
	if err != nil {
		return nil, err
	}
	return &escalationv1.CompleteMeetingDutyResponse{Meeting: out}, nil
}

// reportOverdueDuties marks every duty of c's meetings due by now, neither done nor reported,
// as reported, and records one step for the unit naming them (no reply to the resident: the
// unit answers for its duties). The case's next duty due time moves on.
func (s *Server) reportOverdueDuties(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) error {
	all, _, err := s.store.ListMeetings(ctx, t, c.GetName(), 0, "")
	if err != nil {
		return err
	}
	var late []string
	meetings := make([]*escalationv1.CaseMeeting, 0, len(all))
	for _, l := range all {
		m, changed := l.Rec, false
		for _, d := range m.GetDuties() {
			due, err := domain.DutyDue(d.GetDueDate())
			if err != nil || d.GetDone() || d.GetOverdueReported() || due.After(t.Now) {
				continue
			}
			d.OverdueReported, changed = true, true
			late = append(late, fmt.Sprintf("%s（%s，%s前）", d.GetDescription(), d.GetOwner(), d.GetDueDate()))
		}
		if changed {
			m.UpdateTime = timestamppb.New(t.Now)
			if _, err := s.store.UpdateMeeting(ctx, t, m, l.Version); err != nil {
				return err
			}
		}
		meetings = append(meetings, m)
	}
	c.NextDutyDueTime = domain.NextDutyDue(meetings)
	reason := "overdue duties: " + strings.Join(late, "; ")
	_, err = s.stepAs(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_DUTY_OVERDUE, reason, "", true)
	return err
}
