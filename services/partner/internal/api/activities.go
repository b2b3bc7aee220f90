package api

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

// RecordActivity implements partnerv1.PartnerServiceServer.
func (s *Server) RecordActivity(ctx context.Context, req *partnerv1.RecordActivityRequest) (*partnerv1.RecordActivityResponse, error) {
	in := req.GetActivity()
	node, ok := s.tree.Get(in.GetCommunityCode())
	if !ok {
		return nil, apierr.InvalidArgument("activity.community_code", s.tree.Validate(in.GetCommunityCode()).Error())
	}
	if node.Level != region.LevelCommunity && node.Level != region.LevelGrid {
		return nil, apierr.InvalidArgument("activity.community_code", in.GetCommunityCode()+" is a "+string(node.Level)+", not a community or grid")
	}
	if err := s.checkActivity(ctx, in); err != nil {
		return nil, err
	}
	var partner store.Party
	out, err := resource.Run(ctx, s.res, resource.Change[*partnerv1.ServiceActivity]{
		Method:    partnerv1.PartnerService_RecordActivity_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Refs: func(ctx context.Context, t *resource.Tx, _ *partnerv1.ServiceActivity) error {
			var err error
			partner, _, err = resource.Ref(ctx, t, "activity.partner", in.GetPartner(), s.anyParty)
			return err
		},
		// Officials and grid workers record what happened in their area; a partner records
		// its own.
		Allow: func(p auth.Principal, _ *partnerv1.ServiceActivity) error {
			self := p.HasRole(auth.RolePartner) && p.Partner == in.GetPartner()
			if !self && !(p.HasRole(contactReaders()...) && s.inScope(p, in.GetCommunityCode())) {
				return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not record activities of "+in.GetPartner()+" in "+in.GetCommunityCode())
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *partnerv1.ServiceActivity, _ int64) (*partnerv1.ServiceActivity, int64, error) {
			if partner.GetStatus() != partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE {
				return nil, 0, apierr.FailedPrecondition("PARTNER_NOT_ACTIVE", in.GetPartner()+" is "+statusLabel(partner.GetStatus())+"; only active partners deliver activities")
			}
			rec := proto.Clone(in).(*partnerv1.ServiceActivity)
			rec.Name = aip.NewName("activities")
			rec.Recorder = t.Caller.Subject
			rec.CreateTime = timestamppb.New(t.Now)
			if err := s.store.InsertActivity(ctx, t, rec); err != nil {
				return nil, 0, err
			}
			return rec, 1, t.Emit(ctx, rec.GetName(), rec.GetCommunityCode(), &partnerv1.ActivityRecorded{Activity: rec})
		},
	})
	if err != nil {
		return nil, err
	}
	return &partnerv1.RecordActivityResponse{Activity: out}, nil
}

// ListActivities implements partnerv1.PartnerServiceServer.
func (s *Server) ListActivities(ctx context.Context, req *partnerv1.ListActivitiesRequest) (*partnerv1.ListActivitiesResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	params := store.ActivityParams{
		Filter: req.GetFilter(), PageSize: aip.PageSize(req.GetPageSize(), 50, 1000), PageToken: req.GetPageToken(),
	}
	if p.HasRole(auth.RolePartner) && !p.HasRole(contactReaders()...) {
		// A partner sees what it delivered, wherever that was.
		params.Parties = []string{p.Partner}
	} else {
		params.Communities = append([]string{}, p.Scope...)
	}
	acts, next, err := s.store.ListActivities(ctx, s.db.Reads(), params)
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	return &partnerv1.ListActivitiesResponse{Activities: acts, NextPageToken: next}, nil
}

// Bounds are the most one activity may plausibly count: beyond them a figure is a typing
// error or an inflated report, refused before it reaches the district's statistics.
type Bounds struct {
	PeopleServed, Participants, VolunteerMinutes int32
}

// DefaultBounds: a large community event (two thousand residents), five hundred volunteers,
// a full day (12 hours) of every one of them.
var DefaultBounds = Bounds{PeopleServed: 2000, Participants: 500, VolunteerMinutes: 500 * 12 * 60}

func (b Bounds) withDefaults() Bounds {
	if b.PeopleServed <= 0 {
		b.PeopleServed = DefaultBounds.PeopleServed
	}
	if b.Participants <= 0 {
		b.Participants = DefaultBounds.Participants
	}
	if b.VolunteerMinutes <= 0 {
		b.VolunteerMinutes = DefaultBounds.VolunteerMinutes
	}
	return b
}

// checkActivity refuses what the proto cannot state: a date after today (China Standard Time),
// counts beyond the district's bounds, and a contract that does not exist, is not active, or
// does not have the activity's partner as a party (asked of the contract service, with this
// service's own credentials).
func (s *Server) checkActivity(ctx context.Context, in *partnerv1.ServiceActivity) error {
	day, err := calendar.ParseDate(in.GetActivityDate())
	if err != nil {
		return apierr.InvalidArgument("activity.activity_date", err.Error())
	}
	if today := calendar.DateOf(s.now()); day.Compare(today) > 0 {
		return apierr.InvalidArgument("activity.activity_date", day.String()+" is in the future (today is "+today.String()+")")
	}
	for _, c := range []struct {
		field    string
		got, max int32
	}{
		{"activity.people_served", in.GetPeopleServed(), s.bounds.PeopleServed},
		{"activity.participant_count", in.GetParticipantCount(), s.bounds.Participants},
		{"activity.volunteer_minutes", in.GetVolunteerMinutes(), s.bounds.VolunteerMinutes},
	} {
		if c.got > c.max {
			return apierr.InvalidArgument(c.field, fmt.Sprintf("%d is more than one activity plausibly counts (at most %d)", c.got, c.max))
		}
	}
	name := in.GetContract()
	if name == "" {
		return nil
	}
	if !aip.ValidName(name, "contracts") {
		return apierr.InvalidArgument("activity.contract", name+" is not a contract name (contracts/…)")
	}
	if s.contracts == nil {
		return apierr.InvalidArgument("activity.contract", "no contract service is connected to vouch for "+name)
	}
	resp, err := s.contracts.GetContract(ctx, &contractv1.GetContractRequest{Name: name})
	if err != nil {
		return apierr.FromPeer(err, "contract", "activity.contract", name)
	}
	c := resp.GetContract()
	if c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE {
		return apierr.InvalidArgument("activity.contract", name+" is not active ("+strings.ToLower(strings.TrimPrefix(c.GetStatus().String(), "CONTRACT_STATUS_"))+")")
	}
	for _, p := range c.GetParties() {
		if p.GetParty() == in.GetPartner() {
			return nil
		}
	}
	return apierr.InvalidArgument("activity.contract", in.GetPartner()+" is not a party to "+name)
}
