package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
)

// The work the service does by itself: following the demand feed and sweeping.

func storeListParams(req *escalationv1.ListCasesRequest, sc *store.Scope, now time.Time) store.ListParams {
	return store.ListParams{
		Filter: req.GetFilter(), OrderBy: req.GetOrderBy(), PageToken: req.GetPageToken(),
		PageSize: aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize), Scope: sc, Now: now,
	}
}

// sortUnits orders the board's units by open cases, most first, then by name.
func sortUnits(u []*escalationv1.UnitCount) {
	slices.SortFunc(u, func(a, b *escalationv1.UnitCount) int {
		if a.GetOpen() != b.GetOpen() {
			return int(b.GetOpen() - a.GetOpen())
		}
		return strings.Compare(a.GetUnit(), b.GetUnit())
	})
}

// HandleDemandEvent applies one event of the demand service's feed in tx (the consumer's
// transaction, which also advances its cursor): a PROBLEM moved to IN_CASE gets its case,
// exactly one however often the feed is replayed (the case's demand is unique); the resident's
// unsatisfied rating of the case's outcome (DemandRated) reopens the case at its level, and so
// does staff reopening the demand by hand (a move back to ACCEPTED not made by a rating), once
// per outcome: a replayed rating finds the outcome reopened already.
func (s *Server) HandleDemandEvent(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
	if ev.GetPayload().MessageIs(&demandv1.DemandRated{}) {
		var m demandv1.DemandRated
		if err := ev.GetPayload().UnmarshalTo(&m); err != nil {
			return fmt.Errorf("decode %s: %w", ev.GetId(), err)
		}
		if m.GetKind() != demandv1.DemandKind_DEMAND_KIND_PROBLEM || !m.GetReopens() {
			return nil
		}
		return s.reopen(ctx, tx, m.GetName(), "居民对办理结果不满意")
	}
	var m demandv1.DemandStatusChanged
	if err := ev.GetPayload().UnmarshalTo(&m); err != nil {
		return fmt.Errorf("decode %s: %w", ev.GetId(), err)
	}
	if m.GetKind() != demandv1.DemandKind_DEMAND_KIND_PROBLEM {
		return nil
	}
	to, from := m.GetToStatus(), m.GetFromStatus()
	// A move back made by a rating is the rating's (DemandRated, handled above); a build of
	// demand before DemandRated did not say, and its ratings reopen here as they did then.
	reopening := (from == demandv1.DemandStatus_DEMAND_STATUS_RESOLVED || from == demandv1.DemandStatus_DEMAND_STATUS_CLOSED_UNRESOLVED) &&
		to == demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED && !m.GetByRating()
	if reopening {
		return s.reopen(ctx, tx, m.GetName(), "")
	}
	if to != demandv1.DemandStatus_DEMAND_STATUS_IN_CASE {
		return nil
	}
	t := s.res.Background(tx, feedActor)
	c, _, err := s.lockedByDemand(ctx, tx, m.GetName())
	switch {
	case errors.Is(err, sqlstore.ErrNotFound):
		d, err := s.readDemand(ctx, "demand", m.GetName())
		if err != nil {
			return fmt.Errorf("read %s for its case: %w", m.GetName(), err)
		}
		c := s.newCase(d, 0, false, feedActor.Subject, t.Now)
		if err := s.store.InsertCase(ctx, t, c); err != nil {
			return err
		}
		return s.record(ctx, t, c, escalationv1.CaseEventKind_CASE_EVENT_KIND_OPENED, "", domain.ReplyOpened(c))
	case err != nil:
		return err
	}
	if domain.Open(c.GetStatus()) {
		return nil // the case of a demand back in it: already open
	}
	return s.reopen(ctx, tx, m.GetName(), "")
}

// reopen reopens the case of demand at its level, once per outcome: a case open already, or
// whose outcome was reopened once, is left alone (a replayed feed, a second reason), and so is
// one whose demand is at an outcome again (the event is from an earlier round). A demand
// without a case is not ours.
func (s *Server) reopen(ctx context.Context, tx sqlstore.Tx, demand, reason string) error {
	t := s.res.Background(tx, feedActor)
	c, v, err := s.lockedByDemand(ctx, tx, demand)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if domain.Open(c.GetStatus()) || c.GetReopenCount() >= c.GetOutcomeCount() {
		return nil
	}
	// The event may be older than the case's outcome: a feed replayed, or read late, brings
	// the moves of an earlier round after the case was resolved again. Only a demand that
	// still stands reopened (not back at an outcome) reopens its case.
	d, err := s.readDemand(ctx, "demand", demand)
	if err != nil {
		return fmt.Errorf("read %s before reopening its case: %w", demand, err)
	}
	if d.status == demandv1.DemandStatus_DEMAND_STATUS_RESOLVED || d.status == demandv1.DemandStatus_DEMAND_STATUS_CLOSED_UNRESOLVED {
		return nil
	}
	c.ReopenCount++
	c.Status = escalationv1.CaseStatus_CASE_STATUS_ASSIGNED
	domain.SetClocks(s.rules, c, t.Now)
	_, err = s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_REOPENED, reason, domain.ReplyReopened(c))
	return err
}

// SweepCases handles the cases the sweeper found due at now, in tx, which holds them (read in
// one statement, written queued): a case past its level's escalation time moves up one level
// (its clocks restart at the moment it was due, so a sweep that ran late loses no time), one
// past its warning time warns its unit, one with a co-handling meeting's duty past its date
// tells the unit which. A case no longer due (changed since) only has its
// sweep time corrected.
func (s *Server) SweepCases(ctx context.Context, tx sqlstore.Tx, names []string, now time.Time) error {
	cases, err := s.store.GetCases(ctx, tx, names)
	if err != nil {
		return err
	}
	t := s.res.Background(tx, sweeperActor)
	t.Now = now
	for _, name := range names {
		l, ok := cases[name]
		if !ok {
			continue
		}
		if err := s.sweepCase(ctx, t, l.Rec, l.Version); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (s *Server) sweepCase(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) error {
	now := t.Now
	switch {
	case !domain.Open(c.GetStatus()):
	case c.GetEscalateTime() != nil && !c.GetEscalateTime().AsTime().After(now):
		_, err := s.escalate(ctx, t, c, v, c.GetEscalateTime().AsTime(), true, "")
		return err
	case !c.GetWarned() && c.GetWarnTime() != nil && !c.GetWarnTime().AsTime().After(now):
		c.Warned = true
		return s.warn(ctx, t, c, v)
	case c.GetNextDutyDueTime() != nil && !c.GetNextDutyDueTime().AsTime().After(now):
		return s.reportOverdueDuties(ctx, t, c, v)
	}
	// Nothing due after all: store it again, which recomputes its sweep time.
	c.UpdateTime = timestamppb.New(now)
	_, err := s.store.UpdateLockedCase(ctx, t, c, v)
	return err
}

// warn records that most of c's resolve limit has passed: a step for the unit, with no reply
// to the resident.
func (s *Server) warn(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) error {
	reason := fmt.Sprintf("%.0f%% of the resolve limit has passed: due %s", domain.WarnShare*100, domain.ExpectedDate(c.GetResolveDeadline().AsTime()))
	_, err := s.stepAs(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_WARNED, reason, "", true)
	return err
}
