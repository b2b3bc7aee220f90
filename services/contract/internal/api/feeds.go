package api

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/contract/internal/domain"
)

// HandleDemandEvent applies an event of the demand service's feed: ProjectMatched drafts the
// project's contract with its matched partners, from the template of its list type. The
// draft is keyed by the event's id, so a replayed or redelivered event drafts nothing more;
// a later match of the same project (after a breach) is another event and another draft.
func (s *Server) HandleDemandEvent(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
	m := &demandv1.ProjectMatched{}
	if err := ev.GetPayload().UnmarshalTo(m); err != nil {
		return nil // another type: the consumer asks for this one only
	}
	if _, err := s.store.ContractOfOrigin(ctx, tx, ev.GetId()); err == nil {
		return nil
	} else if !errors.Is(err, sqlstore.ErrNotFound) {
		return err
	}
	p := m.GetProject()
	var partners []string
	for _, name := range m.GetPartners() {
		if aip.ValidName(name, "partners") || aip.ValidName(name, "partnerGroups") {
			partners = append(partners, name)
		}
	}
	if n, ok := s.tree.Get(p.GetCommunityCode()); !ok || n.Level != region.LevelCommunity || len(partners) == 0 || !aip.ValidName(p.GetName(), "projects") {
		s.log.WarnContext(ctx, "a match names no community of this district or no partner: no draft", "event", ev.GetId(), "project", p.GetName())
		return nil
	}
	t := s.res.Background(tx, demandFeedActor)
	terms := domain.DraftTerms(p.GetListType(), partners, today(t))
	if d := p.GetDescription(); len([]rune(d)) >= 2 {
		terms.Content = d
	}
	title := p.GetTitle()
	if len([]rune(title)) < 2 {
		title = "共建契约 " + p.GetName()
	}
	c := draft(t, &contractv1.Contract{Project: p.GetName(), CommunityCode: p.GetCommunityCode(), Title: title, ListType: p.GetListType()}, partners, terms)
	return s.insert(ctx, t, c, ev.GetId())
}

// HandlePartnerEvent applies an event of the partner service's feed: an activity naming a
// contract counts as fulfilment of its partner's duty (the weekly duty on its weekday, else
// its earliest open one-off duty), once per activity. An activity the contract cannot take
// (not active, the partner not a party: the partner service refuses those when recording) is
// logged and skipped, not retried.
func (s *Server) HandlePartnerEvent(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
	m := &partnerv1.ActivityRecorded{}
	if err := ev.GetPayload().UnmarshalTo(m); err != nil {
		return nil
	}
	a := m.GetActivity()
	if a.GetContract() == "" || !aip.ValidName(a.GetContract(), "contracts") {
		return nil
	}
	if _, err := s.store.FulfilmentOfActivity(ctx, tx, a.GetName()); err == nil {
		return nil
	} else if !errors.Is(err, sqlstore.ErrNotFound) {
		return err
	}
	if err := s.store.LockContract(ctx, tx, a.GetContract()); errors.Is(err, sqlstore.ErrNotFound) {
		s.log.WarnContext(ctx, "an activity names no contract", "activity", a.GetName(), "contract", a.GetContract())
		return nil
	} else if err != nil {
		return err
	}
	c, v, err := s.store.GetContract(ctx, tx, a.GetContract())
	if errors.Is(err, sqlstore.ErrNotFound) {
		s.log.WarnContext(ctx, "an activity names no contract", "activity", a.GetName(), "contract", a.GetContract())
		return nil
	} else if err != nil {
		return err
	}
	day, err := calendar.ParseDate(a.GetActivityDate())
	if err != nil {
		s.log.WarnContext(ctx, "an activity's date is not a date", "activity", a.GetName(), "date", a.GetActivityDate())
		return nil
	}
	if c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE || !domain.IsParty(c, a.GetPartner()) {
		s.log.WarnContext(ctx, "an activity names a contract that cannot take it", "activity", a.GetName(), "contract", c.GetName(),
			"status", c.GetStatus().String(), "partner", a.GetPartner())
		return nil
	}
	t := s.res.Background(tx, partnerFeedActor)
	f := &contractv1.Fulfilment{
		Name: c.GetName() + "/fulfilments/" + aip.NewID(), DutyId: domain.DutyFor(domain.InForce(c).GetTerms(), a.GetPartner(), day),
		Date: day.Proto(), Party: a.GetPartner(), PeopleServed: min(a.GetPeopleServed(), 100000), VolunteerMinutes: min(a.GetVolunteerMinutes(), 1000000),
		Note: a.GetTitle(), Activity: a.GetName(), Recorder: partnerFeedActor.Subject, CreateTime: timestamppb.New(t.Now),
	}
	// An activity is recorded the day it happened or later: a date past today's (clock skew
	// between services) counts as today's.
	if day.Compare(calendar.DateOf(t.Now)) > 0 {
		f.Date = calendar.DateOf(t.Now).Proto()
	}
	if err := s.fulfil(ctx, t, c, v, f, "activity"); err != nil {
		if refusal(err) {
			s.log.WarnContext(ctx, "an activity the contract refuses", "activity", a.GetName(), "contract", c.GetName(), "error", err)
			return nil
		}
		return fmt.Errorf("fulfil %s from %s: %w", c.GetName(), a.GetName(), err)
	}
	return nil
}

// refusal reports whether err is a rule's refusal (the event is skipped), not a failure (the
// event is retried).
func refusal(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.FailedPrecondition:
		return true
	}
	return false
}
