package api

import (
	"context"
	"errors"
	"fmt"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

// contractFeedActor is who the moves made from the contract service's alerts are recorded as.
var contractFeedActor = auth.Principal{Subject: "contract-alerts", Roles: []auth.Role{auth.RoleSystem}}

// HandleContractAlert applies an event of the contract service's feed in tx (the consumer's
// transaction, which also moves its cursor: applied once). An inactive-partner alert
// (合而不伙, 联而不动) moves an ACTIVE partner to DORMANT when the district's policy says so
// (Config.DormantOnInactive, off by default: then it is only logged, and staff decide); the
// move is on the partner's status history with the alert's words as its reason.
func (s *Server) HandleContractAlert(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
	var m contractv1.AlertRaised
	if err := ev.GetPayload().UnmarshalTo(&m); err != nil {
		return fmt.Errorf("decode %s: %w", ev.GetId(), err)
	}
	a := m.GetAlert()
	if a.GetKind() != contractv1.AlertKind_ALERT_KIND_PARTNER_INACTIVE {
		return nil
	}
	name := a.GetParty()
	if !s.dormantOnInactive {
		s.log.InfoContext(ctx, "a partner is inactive on a contract (policy: staff decide)", "partner", name, "contract", m.GetContract())
		return nil
	}
	rec := store.NewParty(name)
	v, err := s.store.GetParty(ctx, tx, name, rec)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if rec.GetStatus() != partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE {
		return nil
	}
	t := s.res.Background(tx, contractFeedActor)
	reason := "inactive on " + m.GetContract() + ": " + a.GetMessage()
	change := recordStatus(rec, partnerv1.PartnerStatus_PARTNER_STATUS_DORMANT, contractFeedActor.Subject, reason, t.Now)
	setUpdateTime(rec, change.GetChangeTime())
	if _, err := s.store.UpdateParty(ctx, t, rec, v); err != nil {
		return err
	}
	return t.Emit(ctx, name, rec.GetRegionCode(), &partnerv1.PartnerStatusChanged{Name: name, RegionCode: rec.GetRegionCode(), Change: change})
}
