package api

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/idempotency"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

// RecordActivity implements partnerv1.PartnerServiceServer.
func (s *Server) RecordActivity(ctx context.Context, req *partnerv1.RecordActivityRequest) (*partnerv1.RecordActivityResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetActivity()
	node, ok := s.tree.Get(in.GetCommunityCode())
	if !ok {
		return nil, apierr.InvalidArgument("activity.community_code", s.tree.Validate(in.GetCommunityCode()).Error())
	}
	if node.Level != region.LevelCommunity && node.Level != region.LevelGrid {
		return nil, apierr.InvalidArgument("activity.community_code", in.GetCommunityCode()+" is a "+string(node.Level)+", not a community or grid")
	}
	// Officials and grid workers record what happened in their area; a partner records its own.
	self := p.HasRole(auth.RolePartner) && p.Partner == in.GetPartner()
	if !self && !(p.HasRole(contactReaders...) && s.inScope(p, in.GetCommunityCode())) {
		return nil, apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not record activities of "+in.GetPartner()+" in "+in.GetCommunityCode())
	}
	now := s.now()
	rec := proto.Clone(in).(*partnerv1.ServiceActivity)
	rec.Name = "activities/" + newID()
	rec.Recorder = p.Subject
	rec.CreateTime = timestamppb.New(now)

	out, _, err := idempotency.Create(ctx, s.db, partnerv1.PartnerService_RecordActivity_FullMethodName, req.GetRequestId(), req,
		func(ctx context.Context, tx sqlstore.Tx) (*partnerv1.ServiceActivity, error) {
			party := store.NewParty(in.GetPartner())
			if _, err := s.store.GetParty(ctx, tx, in.GetPartner(), party); err != nil {
				if isNotFound(err) {
					return nil, apierr.InvalidArgument("activity.partner", in.GetPartner()+" does not exist")
				}
				return nil, err
			}
			if party.GetStatus() != partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE {
				return nil, apierr.FailedPrecondition("PARTNER_NOT_ACTIVE", in.GetPartner()+" is "+statusLabel(party.GetStatus())+"; only active partners deliver activities")
			}
			if err := s.store.InsertActivity(ctx, tx, rec); err != nil {
				return nil, err
			}
			if _, err := s.outbox.Append(ctx, tx, rec.GetName(), rec.GetCommunityCode(), &partnerv1.ActivityRecorded{Activity: rec}); err != nil {
				return nil, err
			}
			return rec, nil
		})
	if err != nil {
		return nil, s.writeErr(err, "activity", rec.GetName())
	}
	auth.AuditWrite(ctx, s.log, p, out.GetName(), partnerv1.PartnerService_RecordActivity_FullMethodName)
	return &partnerv1.RecordActivityResponse{Activity: out}, nil
}

// ListActivities implements partnerv1.PartnerServiceServer.
func (s *Server) ListActivities(ctx context.Context, req *partnerv1.ListActivitiesRequest) (*partnerv1.ListActivitiesResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	params := store.ActivityParams{
		Filter: req.GetFilter(), PageSize: aip.PageSize(req.GetPageSize(), 50, 1000), PageToken: req.GetPageToken(),
	}
	if p.HasRole(auth.RolePartner) && !p.HasRole(contactReaders...) {
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
