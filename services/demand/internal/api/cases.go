package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
)

// caseActor is who the escalation service's steps are recorded as: the escalation service,
// with the role of whoever took the step there ("street_officer", "system" for its sweeper),
// which is what residents see on their timeline.
func caseActor(role string) auth.Principal {
	if role == "" {
		role = string(auth.RoleSystem)
	}
	return auth.Principal{Subject: "escalation", Roles: []auth.Role{auth.Role(role)}}
}

// ApplyCaseChange applies one event of the escalation service's feed (CaseChanged) in tx, the
// consumer's transaction that also advances its cursor, so it happens exactly once however
// often the feed is replayed: the step's reply goes onto the demand's timeline (事事有回音), and
// the demand follows its case — IN_CASE while the case is open (a case opened by CreateCase,
// or reopened), RESOLVED or CLOSED_UNRESOLVED with its outcome. A step with no reply (a
// warning to the unit, a request for more time) leaves the demand alone: it never opens or
// closes a case, and so every effect here is an entry named by its step, which is what makes
// applying a step again (a replayed feed) a no-op.
func (s *Server) ApplyCaseChange(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
	var m escalationv1.CaseChanged
	if err := ev.GetPayload().UnmarshalTo(&m); err != nil {
		return fmt.Errorf("decode %s: %w", ev.GetId(), err)
	}
	c, step := m.GetCase(), m.GetEvent()
	name := c.GetDemand()
	if err := s.store.LockDemand(ctx, tx, name); errors.Is(err, sqlstore.ErrNotFound) {
		return nil // not this district's demand: nothing to tell anyone
	} else if err != nil {
		return err
	}
	d, v, err := s.store.GetDemand(ctx, tx, name)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	// The step's own id names its entry: applied again, it is found and skipped.
	_, stepID, ok := strings.Cut(step.GetName(), "/events/")
	if !ok || stepID == "" {
		return fmt.Errorf("decode %s: %q is not a case event name", ev.GetId(), step.GetName())
	}
	if step.GetReply() == "" {
		return nil
	}
	if seen, err := s.store.HasTimelineEntry(ctx, tx, name, stepID); err != nil || seen {
		return err
	}
	t := s.res.Background(tx, caseActor(step.GetActorRole()))
	reply := step.GetReply()
	open := c.GetStatus() == escalationv1.CaseStatus_CASE_STATUS_ASSIGNED || c.GetStatus() == escalationv1.CaseStatus_CASE_STATUS_ACCEPTED ||
		c.GetStatus() == escalationv1.CaseStatus_CASE_STATUS_HANDED_BACK
	from := d.GetStatus()
	to, move := domain.CaseMove(from, open, c.GetStatus() == escalationv1.CaseStatus_CASE_STATUS_RESOLVED)
	kind := demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY
	if move {
		kind = demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE
		d.Status, d.UpdateTime = to, timestamppb.New(t.Now)
		if _, err := s.store.UpdateDemand(ctx, t, d, v); err != nil {
			return err
		}
		if err := statusChanged(ctx, t, d, from); err != nil {
			return err
		}
	}
	e := s.entry(t, name, kind, from, d.GetStatus(), reply)
	e.Name = name + "/timelineEntries/" + stepID
	return s.store.AppendTimeline(ctx, t, e)
}
