package api

import (
	"context"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
)

// The dispute mediation ladder (阶梯式矛盾调和): grid worker → the community's mediation committee
// → the sub-district's judicial office → the district. Each session is a step of the case with
// its parties and outcome; a failure moves the dispute up a rung, and the case up a level when
// the next rung is the level above's.

// RecordMediationSession implements escalationv1.CaseServiceServer.
func (s *Server) RecordMediationSession(ctx context.Context, req *escalationv1.RecordMediationSessionRequest) (*escalationv1.RecordMediationSessionResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_RecordMediationSession_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error {
			rung := domain.RungOf(c)
			if rung == escalationv1.MediationRung_MEDIATION_RUNG_GRID_WORKER && p.HasRole(auth.RoleGridWorker) && s.seesCommunity(p, c.GetCommunityCode()) {
				return nil
			}
			if domain.RoleLevel(p) >= domain.RungLevel(rung) && p.InScope(s.tree, c.GetCommunityCode()) {
				return nil
			}
			return apierr.PermissionDenied("NOT_THIS_RUNG", "you may not record a session of "+c.GetName()+": its mediation is now with the "+strings.ToLower(strings.TrimPrefix(rung.String(), "MEDIATION_RUNG_")))
		},
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			rung := domain.RungOf(c)
			summary := strings.TrimSpace(req.GetSummary())
			session := &escalationv1.MediationSession{Rung: rung, Parties: req.GetParties(), Outcome: req.GetOutcome(), Summary: summary}
			c.MediationRung = rung
			var reply string
			switch next, ok := domain.NextRung(rung); {
			case req.GetOutcome() == escalationv1.MediationOutcome_MEDIATION_OUTCOME_AGREED:
				c.Status, c.OutcomeTime, c.ResolutionNote, c.CloseReason = escalationv1.CaseStatus_CASE_STATUS_RESOLVED, timestamppb.New(t.Now), summary, ""
				c.OutcomeCount++
				reply = "经" + domain.RungName(rung) + "调解，双方达成调解协议：" + summary + " 欢迎您对办理结果进行评价。"
			case !ok:
				c.Status, c.OutcomeTime, c.CloseReason, c.ResolutionNote = escalationv1.CaseStatus_CASE_STATUS_CLOSED_UNRESOLVED, timestamppb.New(t.Now), summary, ""
				c.OutcomeCount++
				reply = "经" + domain.RungName(rung) + "调解，双方未能达成协议，现予办结：" + summary + "（可依法通过诉讼等途径解决）"
			default:
				c.MediationRung = next
				reply = "经" + domain.RungName(rung) + "调解，双方未能达成协议，已提交" + domain.RungName(next) + "继续调解。"
				if l := domain.RungLevel(next); l > c.GetLevel() {
					// The next rung is the level above's: the case goes up with it.
					s.setColour(c, domain.ColourOf(l), t.Now)
					c.EscalationCount++
					reply = strings.TrimSuffix(reply, "。") + "，" + strings.TrimPrefix(domain.ReplyEscalated(c, false, ""), "您反映的问题已升级，")
				}
			}
			c.UpdateTime = timestamppb.New(t.Now)
			nv, err := s.store.UpdateCase(ctx, t, c, v)
			if err != nil {
				return 0, err
			}
			return nv, s.recordSession(ctx, t, c, escalationv1.CaseEventKind_CASE_EVENT_KIND_MEDIATED, summary, reply, session)
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.RecordMediationSessionResponse{Case: out}, nil
}
