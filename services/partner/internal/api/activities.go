package api

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
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
