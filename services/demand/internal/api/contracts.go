package api

import (
	"context"
	"errors"
	"fmt"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// contractActor is who the contract service's moves of a project are recorded as.
var contractActor = auth.Principal{Subject: "contract", Roles: []auth.Role{auth.RoleSystem}}

// Contract statuses the project follows (the contract service's lifecycle).
const (
	contractActive     = contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE
	contractExpired    = contractv1.ContractStatus_CONTRACT_STATUS_EXPIRED
	contractFulfilled  = contractv1.ContractStatus_CONTRACT_STATUS_FULFILLED
	contractBreached   = contractv1.ContractStatus_CONTRACT_STATUS_BREACHED
	contractTerminated = contractv1.ContractStatus_CONTRACT_STATUS_TERMINATED
)

// UnderContract reports whether a contract in status binds its project: the project then
// moves with the contract, never by hand.
func UnderContract(status int32) bool {
	s := contractv1.ContractStatus(status)
	return s == contractActive || s == contractExpired
}

// ApplyContractChange applies one event of the contract service's feed in tx, the consumer's
// transaction that also advances its cursor, so it happens exactly once however often the feed
// is replayed, and at most once by its id even when the feed is read again from its start (a
// cursor lost). The project follows its contract: CONTRACTED when it is signed by every party,
// DELIVERING at its first fulfilment, COMPLETED when it is evaluated fulfilled; a breached or
// terminated contract puts the project back to MATCHING (its partners released) with a reply
// to its residents; an expired one puts it in CONTRACT_EXPIRED, where the community's staff
// renew the contract (its successor, once signed, makes the project CONTRACTED again) or close
// the project by hand. Fulfilled and breached contracts go into each partner's track record,
// which matching reads. A move that no longer fits the project (moved meanwhile) is skipped.
func (s *Server) ApplyContractChange(ctx context.Context, tx sqlstore.Tx, ev *eventsv1.Event) error {
	var changed contractv1.ContractStatusChanged
	var fulfilled contractv1.FulfilmentRecorded
	switch {
	case ev.GetPayload().MessageIs(&changed):
		if err := ev.GetPayload().UnmarshalTo(&changed); err != nil {
			return fmt.Errorf("decode %s: %w", ev.GetId(), err)
		}
		if first, err := s.store.FirstContractEvent(ctx, tx, ev.GetId()); err != nil || !first {
			return err
		}
		return s.followContract(ctx, tx, &changed)
	case ev.GetPayload().MessageIs(&fulfilled):
		if err := ev.GetPayload().UnmarshalTo(&fulfilled); err != nil {
			return fmt.Errorf("decode %s: %w", ev.GetId(), err)
		}
		if !fulfilled.GetFirst() {
			return nil
		}
		if first, err := s.store.FirstContractEvent(ctx, tx, ev.GetId()); err != nil || !first {
			return err
		}
		return s.moveWithContract(ctx, tx, fulfilled.GetProject(), demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING,
			"合伙人已开始履约，项目进入实施阶段。", demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED)
	}
	return nil
}

func (s *Server) followContract(ctx context.Context, tx sqlstore.Tx, m *contractv1.ContractStatusChanged) error {
	c := m.GetContract()
	project := c.GetProject()
	if m.GetToStatus() == contractFulfilled || m.GetToStatus() == contractBreached {
		for _, p := range c.GetParties() {
			if p.GetParty() == "community" {
				continue
			}
			if err := s.store.RecordContractOutcome(ctx, tx, p.GetParty(), m.GetToStatus() == contractFulfilled); err != nil {
				return err
			}
		}
	}
	if c.GetSuccessor() != "" {
		// Renewed: the project follows the successor now. What becomes of this contract (it
		// expires, is evaluated or terminated) counts in the track records only.
		return nil
	}
	if err := s.store.SetProjectContract(ctx, tx, project, c.GetName(), int32(m.GetToStatus())); err != nil {
		return err
	}
	switch m.GetToStatus() {
	case contractActive:
		if m.GetFromStatus() != contractv1.ContractStatus_CONTRACT_STATUS_AWAITING_SIGNATURES {
			return nil
		}
		if c.GetPredecessor() != "" {
			return s.moveWithContract(ctx, tx, project, demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED,
				"合伙人与社区已续签共建契约，项目继续实施。", demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_EXPIRED, demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING)
		}
		return s.moveWithContract(ctx, tx, project, demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED,
			"合伙人与社区已签订共建契约，明确了各方职责、完成时限和预期成效。", demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING, demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_EXPIRED)
	case contractExpired:
		return s.moveWithContract(ctx, tx, project, demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_EXPIRED,
			expiredReply(c), demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED, demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING)
	case contractFulfilled:
		return s.moveWithContract(ctx, tx, project, demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED,
			"共建契约已履行完毕："+m.GetReason(), demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED, demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING,
			demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_EXPIRED)
	case contractBreached:
		return s.moveWithContract(ctx, tx, project, demandv1.ProjectStatus_PROJECT_STATUS_MATCHING,
			"合伙人未履行共建契约，社区将重新招募合伙人："+m.GetReason(), boundProjectStatuses...)
	case contractTerminated:
		return s.moveWithContract(ctx, tx, project, demandv1.ProjectStatus_PROJECT_STATUS_MATCHING,
			"共建契约已终止，社区将重新招募合伙人："+m.GetReason(), boundProjectStatuses...)
	}
	return nil
}

// expiredReply is what the residents of a project whose contract c expired read: the service
// may pause while the community decides, and they will hear which way it went.
func expiredReply(c *contractv1.Contract) string {
	end := ""
	for _, v := range c.GetVersions() {
		if v.GetNumber() == c.GetInForceVersion() {
			if d := v.GetTerms().GetEndDate(); d != nil {
				end = fmt.Sprintf("于%d年%d月%d日", d.GetYear(), d.GetMonth(), d.GetDay())
			}
		}
	}
	return "共建契约已" + end + "到期，社区正在商议续约或结项，结果将及时告知您。"
}

// boundProjectStatuses are the statuses of a project bound to its contract, from which a
// breach or a termination sends it back to MATCHING.
var boundProjectStatuses = []demandv1.ProjectStatus{
	demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING, demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED, demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING,
	demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_EXPIRED,
}

// moveWithContract moves project to to, with reply on its demands' timelines, when it is in
// one of from; otherwise (another district's project, or moved meanwhile) it does nothing.
func (s *Server) moveWithContract(ctx context.Context, tx sqlstore.Tx, project string, to demandv1.ProjectStatus, reply string, from ...demandv1.ProjectStatus) error {
	pr, v, err := s.store.GetProject(ctx, tx, project)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	ok := false
	for _, f := range from {
		ok = ok || pr.GetStatus() == f
	}
	if !ok {
		s.log.InfoContext(ctx, "a contract's move does not fit its project", "project", project, "status", pr.GetStatus().String(), "to", to.String())
		return nil
	}
	if to == demandv1.ProjectStatus_PROJECT_STATUS_MATCHING {
		// The partners are released: they are no longer committed to it.
		pr.MatchedPartners = nil
	}
	_, err = s.moveProject(ctx, s.res.Background(tx, contractActor), pr, v, to, reply)
	return err
}
