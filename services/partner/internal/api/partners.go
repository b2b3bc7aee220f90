package api

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

func (s *Server) partnerOps() kindOps[*partnerv1.Partner] {
	return kindOps[*partnerv1.Partner]{
		collection: "partners",
		field:      "partner",
		updatable: []string{"display_name", "group", "region_code", "capabilities", "service_areas", "availability",
			"recruitment_channel", "contact", "description"},
		newT: func() *partnerv1.Partner { return &partnerv1.Partner{} },
		refs: func(ctx context.Context, t *resource.Tx, p *partnerv1.Partner) error {
			if p.GetGroup() == "" {
				return nil
			}
			g, _, err := resource.Ref(ctx, t, "partner.group", p.GetGroup(), loader(s, func() *partnerv1.PartnerGroup { return &partnerv1.PartnerGroup{} }))
			if err != nil {
				return err
			}
			if g.GetStatus() == partnerv1.PartnerStatus_PARTNER_STATUS_WITHDRAWN {
				return apierr.FailedPrecondition("GROUP_WITHDRAWN", "group "+p.GetGroup()+" has withdrawn")
			}
			return nil
		},
		registered: func(p *partnerv1.Partner) *partnerv1.PartnerRegistered {
			return &partnerv1.PartnerRegistered{Party: &partnerv1.PartnerRegistered_Partner{Partner: p}}
		},
		init: func(p *partnerv1.Partner, name string, now *timestamppb.Timestamp) {
			p.Name, p.CreateTime, p.UpdateTime, p.Etag = name, now, now, ""
			p.Status, p.StatusHistory = partnerv1.PartnerStatus_PARTNER_STATUS_UNSPECIFIED, nil
		},
	}
}

// GetPartner implements partnerv1.PartnerServiceServer.
func (s *Server) GetPartner(ctx context.Context, req *partnerv1.GetPartnerRequest) (*partnerv1.GetPartnerResponse, error) {
	p := &partnerv1.Partner{}
	if err := s.get(ctx, req.GetName(), p); err != nil {
		return nil, err
	}
	return &partnerv1.GetPartnerResponse{Partner: p}, nil
}

// ListPartners implements partnerv1.PartnerServiceServer.
func (s *Server) ListPartners(ctx context.Context, req *partnerv1.ListPartnersRequest) (*partnerv1.ListPartnersResponse, error) {
	listed, next, err := s.list(ctx, store.KindPartner, req.GetFilter(), req.GetOrderBy(), req.GetPageSize(), req.GetPageToken(),
		func() store.Party { return &partnerv1.Partner{} })
	if err != nil {
		return nil, err
	}
	resp := &partnerv1.ListPartnersResponse{NextPageToken: next}
	for _, l := range listed {
		resp.Partners = append(resp.Partners, l.(*partnerv1.Partner))
	}
	return resp, nil
}

func (s *Server) list(ctx context.Context, kind store.Kind, filter, orderBy string, pageSize int32, pageToken string, newParty func() store.Party) ([]store.Party, string, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, "", err
	}
	listed, next, err := s.store.ListParties(ctx, s.db.Reads(), store.ListParams{
		Kind: kind, Filter: filter, OrderBy: orderBy, PageSize: aip.PageSize(pageSize, 50, 1000), PageToken: pageToken,
		Scope: s.scope(p),
	}, newParty)
	if err != nil {
		return nil, "", apierr.FromCall(err, "")
	}
	s.viewAll(ctx, p, listed)
	out := make([]store.Party, len(listed))
	for i, l := range listed {
		out[i] = l.Party
	}
	return out, next, nil
}

// CreatePartner implements partnerv1.PartnerServiceServer.
func (s *Server) CreatePartner(ctx context.Context, req *partnerv1.CreatePartnerRequest) (*partnerv1.CreatePartnerResponse, error) {
	p, err := create(ctx, s, s.partnerOps(), partnerv1.PartnerService_CreatePartner_FullMethodName, req.GetRequestId(), req, req.GetPartner())
	if err != nil {
		return nil, err
	}
	return &partnerv1.CreatePartnerResponse{Partner: p}, nil
}

// UpdatePartner implements partnerv1.PartnerServiceServer.
func (s *Server) UpdatePartner(ctx context.Context, req *partnerv1.UpdatePartnerRequest) (*partnerv1.UpdatePartnerResponse, error) {
	p, err := update(ctx, s, s.partnerOps(), partnerv1.PartnerService_UpdatePartner_FullMethodName, req.GetPartner(), req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	return &partnerv1.UpdatePartnerResponse{Partner: p}, nil
}

// DeletePartner implements partnerv1.PartnerServiceServer.
func (s *Server) DeletePartner(ctx context.Context, req *partnerv1.DeletePartnerRequest) (*partnerv1.DeletePartnerResponse, error) {
	if err := s.deleteParty(ctx, partnerv1.PartnerService_DeletePartner_FullMethodName, req.GetName(), req.GetEtag()); err != nil {
		return nil, err
	}
	return &partnerv1.DeletePartnerResponse{}, nil
}

// ChangePartnerStatus implements partnerv1.PartnerServiceServer.
func (s *Server) ChangePartnerStatus(ctx context.Context, req *partnerv1.ChangePartnerStatusRequest) (*partnerv1.ChangePartnerStatusResponse, error) {
	p, err := changeStatus(ctx, s, s.partnerOps(), partnerv1.PartnerService_ChangePartnerStatus_FullMethodName, req.GetName(), req.GetStatus(), req.GetReason(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	return &partnerv1.ChangePartnerStatusResponse{Partner: p}, nil
}
