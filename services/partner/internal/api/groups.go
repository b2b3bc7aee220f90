package api

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/services/partner/internal/domain"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

func groupOps() kindOps[*partnerv1.PartnerGroup] {
	return kindOps[*partnerv1.PartnerGroup]{
		collection: "partnerGroups",
		field:      "partner_group",
		updatable: []string{"display_name", "kind", "credit_code", "region_code", "capabilities", "service_areas",
			"availability", "recruitment_channel", "contact", "description"},
		newT: func() *partnerv1.PartnerGroup { return &partnerv1.PartnerGroup{} },
		refs: func(_ context.Context, _ *resource.Tx, g *partnerv1.PartnerGroup) error {
			switch {
			case g.GetCreditCode() == "" && domain.CreditCodeRequired(g.GetKind()):
				return apierr.InvalidArgument("partner_group.credit_code", "is required for a group of kind "+g.GetKind().String())
			case g.GetCreditCode() != "":
				if err := domain.ValidateCreditCode(g.GetCreditCode()); err != nil {
					return apierr.InvalidArgument("partner_group.credit_code", "is not a valid unified social credit code: "+err.Error())
				}
			}
			return nil
		},
		registered: func(g *partnerv1.PartnerGroup) *partnerv1.PartnerRegistered {
			return &partnerv1.PartnerRegistered{Party: &partnerv1.PartnerRegistered_Group{Group: g}}
		},
		init: func(g *partnerv1.PartnerGroup, name string, now *timestamppb.Timestamp) {
			g.Name, g.CreateTime, g.UpdateTime, g.Etag = name, now, now, ""
			g.Status, g.StatusHistory, g.MemberCount = partnerv1.PartnerStatus_PARTNER_STATUS_UNSPECIFIED, nil, 0
		},
	}
}

// GetPartnerGroup implements partnerv1.PartnerServiceServer.
func (s *Server) GetPartnerGroup(ctx context.Context, req *partnerv1.GetPartnerGroupRequest) (*partnerv1.GetPartnerGroupResponse, error) {
	g := &partnerv1.PartnerGroup{}
	if err := s.get(ctx, req.GetName(), g); err != nil {
		return nil, err
	}
	if err := s.fillMemberCounts(ctx, g); err != nil {
		return nil, err
	}
	return &partnerv1.GetPartnerGroupResponse{PartnerGroup: g}, nil
}

func (s *Server) fillMemberCounts(ctx context.Context, groups ...*partnerv1.PartnerGroup) error {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.GetName()
	}
	counts, err := s.store.MemberCounts(ctx, s.db.Reads(), names)
	if err != nil {
		return apierr.FromCall(err, "")
	}
	for _, g := range groups {
		g.MemberCount = counts[g.GetName()]
	}
	return nil
}

// ListPartnerGroups implements partnerv1.PartnerServiceServer.
func (s *Server) ListPartnerGroups(ctx context.Context, req *partnerv1.ListPartnerGroupsRequest) (*partnerv1.ListPartnerGroupsResponse, error) {
	listed, next, err := s.list(ctx, store.KindGroup, req.GetFilter(), req.GetOrderBy(), req.GetPageSize(), req.GetPageToken(),
		func() store.Party { return &partnerv1.PartnerGroup{} })
	if err != nil {
		return nil, err
	}
	resp := &partnerv1.ListPartnerGroupsResponse{NextPageToken: next}
	for _, l := range listed {
		resp.PartnerGroups = append(resp.PartnerGroups, l.(*partnerv1.PartnerGroup))
	}
	if err := s.fillMemberCounts(ctx, resp.PartnerGroups...); err != nil {
		return nil, err
	}
	return resp, nil
}

// CreatePartnerGroup implements partnerv1.PartnerServiceServer.
func (s *Server) CreatePartnerGroup(ctx context.Context, req *partnerv1.CreatePartnerGroupRequest) (*partnerv1.CreatePartnerGroupResponse, error) {
	g, err := create(ctx, s, groupOps(), partnerv1.PartnerService_CreatePartnerGroup_FullMethodName, req.GetRequestId(), req, req.GetPartnerGroup())
	if err != nil {
		return nil, err
	}
	return &partnerv1.CreatePartnerGroupResponse{PartnerGroup: g}, nil
}

// UpdatePartnerGroup implements partnerv1.PartnerServiceServer.
func (s *Server) UpdatePartnerGroup(ctx context.Context, req *partnerv1.UpdatePartnerGroupRequest) (*partnerv1.UpdatePartnerGroupResponse, error) {
	g, err := update(ctx, s, groupOps(), partnerv1.PartnerService_UpdatePartnerGroup_FullMethodName, req.GetPartnerGroup(), req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	if err := s.fillMemberCounts(ctx, g); err != nil {
		return nil, err
	}
	return &partnerv1.UpdatePartnerGroupResponse{PartnerGroup: g}, nil
}

// DeletePartnerGroup implements partnerv1.PartnerServiceServer.
func (s *Server) DeletePartnerGroup(ctx context.Context, req *partnerv1.DeletePartnerGroupRequest) (*partnerv1.DeletePartnerGroupResponse, error) {
	if err := s.deleteParty(ctx, partnerv1.PartnerService_DeletePartnerGroup_FullMethodName, req.GetName(), req.GetEtag()); err != nil {
		return nil, err
	}
	return &partnerv1.DeletePartnerGroupResponse{}, nil
}

// ChangePartnerGroupStatus implements partnerv1.PartnerServiceServer.
func (s *Server) ChangePartnerGroupStatus(ctx context.Context, req *partnerv1.ChangePartnerGroupStatusRequest) (*partnerv1.ChangePartnerGroupStatusResponse, error) {
	g, err := changeStatus(ctx, s, groupOps(), partnerv1.PartnerService_ChangePartnerGroupStatus_FullMethodName, req.GetName(), req.GetStatus(), req.GetReason(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	if err := s.fillMemberCounts(ctx, g); err != nil {
		return nil, err
	}
	return &partnerv1.ChangePartnerGroupStatusResponse{PartnerGroup: g}, nil
}
