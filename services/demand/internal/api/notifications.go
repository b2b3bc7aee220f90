package api

import (
	"context"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// ListNotifications implements demandv1.DemandServiceServer: the delivery status of a
// demand's notifications, for the staff who handle it. The demand is resolved in the caller's
// scope first, as for its timeline; phone numbers are masked for every caller (whoever needs
// the reporter's number reads it on the demand, where that read is audited).
func (s *Server) ListNotifications(ctx context.Context, req *demandv1.ListNotificationsRequest) (*demandv1.ListNotificationsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.Reads()
	if isResident(p) {
		// The policy admits handlers only; a caller acting as a resident sees no outbox, in
		// the words of a demand that is not there.
		return nil, apierr.FromCall(sqlstore.ErrNotFound, req.GetParent())
	}
	if _, _, err := s.loadDemand(ctx, q, p, req.GetParent()); err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	ns, next, err := s.store.ListNotifications(ctx, q, req.GetParent(), aip.PageSize(req.GetPageSize(), 50, maxPageSize), req.GetPageToken())
	if err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	for _, n := range ns {
		n.RecipientPhone = personal.MaskPhone(n.GetRecipientPhone())
	}
	return &demandv1.ListNotificationsResponse{Notifications: ns, NextPageToken: next}, nil
}
