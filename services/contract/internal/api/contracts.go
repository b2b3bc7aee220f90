package api

import (
	"context"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/services/contract/internal/domain"
)

// draft is a new contract in DRAFT with terms as its first version, made at t.
func draft(t *resource.Tx, in *contractv1.Contract, partners []string, terms *contractv1.Terms) *contractv1.Contract {
	now := timestamppb.New(t.Now)
	return &contractv1.Contract{
		Name: aip.NewName("contracts"), Project: in.GetProject(), CommunityCode: in.GetCommunityCode(), Title: in.GetTitle(),
		ListType: in.GetListType(), Parties: domain.NewParties(partners), Status: contractv1.ContractStatus_CONTRACT_STATUS_DRAFT,
		Versions: []*contractv1.ContractVersion{{
			Number: 1, State: contractv1.VersionState_VERSION_STATE_PENDING, Terms: terms, CreateTime: now,
		}},
		CreateTime: now, UpdateTime: now,
	}
}

// insert stores a new contract c (drafted from origin, "" for none) and announces it.
func (s *Server) insert(ctx context.Context, t *resource.Tx, c *contractv1.Contract, origin string) error {
	if err := s.store.InsertContract(ctx, t, c, s.subdistrictOf(c.GetCommunityCode()), origin, domain.NextDue(c, s.policy)); err != nil {
		return err
	}
	return t.Emit(ctx, c.GetName(), c.GetCommunityCode(), &contractv1.ContractDrafted{Contract: copyOf(c)})
}

// today is the local date of t.
func today(t *resource.Tx) calendar.Date { return calendar.DateOf(t.Now) }

// CreateContract implements contractv1.ContractServiceServer.
func (s *Server) CreateContract(ctx context.Context, req *contractv1.CreateContractRequest) (*contractv1.CreateContractResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetContract()
	if n, ok := s.tree.Get(in.GetCommunityCode()); !ok || n.Level != region.LevelCommunity {
		return nil, apierr.InvalidArgument("contract.community_code", in.GetCommunityCode()+" is not a community of this district")
	}
	if !p.HasRole(auth.With(auth.Managers(), auth.RoleSystem)...) {
		// Refused before any name is resolved: the role can never draft.
		return nil, apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not draft a contract: only the community's staff may")
	}
	listType, err := s.resolveDraft(ctx, p, in.GetProject(), in.GetCommunityCode(), req.GetPartners())
	if err != nil {
		return nil, err
	}
	if in.GetListType() == 0 {
		// The project library's list: the template and the figures follow it.
		in = proto.CloneOf(in)
		in.ListType = listType
	}
	out, err := resource.Run(ctx, s.res, resource.Change[*contractv1.Contract]{
		Method:    contractv1.ContractService_CreateContract_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Refs: func(context.Context, *resource.Tx, *contractv1.Contract) error {
			if n, ok := s.tree.Get(in.GetCommunityCode()); !ok || n.Level != region.LevelCommunity {
				return apierr.InvalidArgument("contract.community_code", in.GetCommunityCode()+" is not a community of this district")
			}
			return nil
		},
		Allow: func(p auth.Principal, _ *contractv1.Contract) error {
			return s.allowManage(p, in.GetCommunityCode(), "draft a contract for community "+in.GetCommunityCode())
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *contractv1.Contract, _ int64) (*contractv1.Contract, int64, error) {
			terms := req.GetTerms()
			if terms == nil {
				terms = domain.DraftTerms(in.GetListType(), req.GetPartners(), today(t))
			} else {
				terms = proto.Clone(terms).(*contractv1.Terms)
				domain.AssignIDs(terms, nil)
			}
			c := draft(t, in, req.GetPartners(), terms)
			if err := domain.CheckTerms(terms, domain.Parties(c), "terms"); err != nil {
				return nil, 0, err
			}
			return c, 1, s.insert(ctx, t, c, "")
		},
		View: view,
	})
	if err != nil {
		return nil, err
	}
	return &contractv1.CreateContractResponse{Contract: out}, nil
}

// GetContract implements contractv1.ContractServiceServer.
func (s *Server) GetContract(ctx context.Context, req *contractv1.GetContractRequest) (*contractv1.GetContractResponse, error) {
	c, err := resource.Get(ctx, s.res, req.GetName(), s.loadContract, view)
	if err != nil {
		return nil, err
	}
	return &contractv1.GetContractResponse{Contract: c}, nil
}

// ListContracts implements contractv1.ContractServiceServer.
func (s *Server) ListContracts(ctx context.Context, req *contractv1.ListContractsRequest) (*contractv1.ListContractsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	page, next, err := s.store.ListContracts(ctx, s.db.Reads(), storeListParams(req, s.scope(p)))
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	resp := &contractv1.ListContractsResponse{NextPageToken: next}
	for _, l := range page {
		view(ctx, p, l.Rec, l.Version)
		resp.Contracts = append(resp.Contracts, l.Rec)
	}
	return resp, nil
}

// ListContractTemplates implements contractv1.ContractServiceServer.
func (s *Server) ListContractTemplates(ctx context.Context, req *contractv1.ListContractTemplatesRequest) (*contractv1.ListContractTemplatesResponse, error) {
	if _, err := auth.Caller(ctx); err != nil {
		return nil, err
	}
	resp := &contractv1.ListContractTemplatesResponse{}
	for _, tp := range domain.Templates(calendar.DateOf(s.now())) {
		if req.GetListType() == 0 || req.GetListType() == tp.GetListType() {
			resp.Templates = append(resp.Templates, tp)
		}
	}
	return resp, nil
}

// AmendContract implements contractv1.ContractServiceServer.
func (s *Server) AmendContract(ctx context.Context, req *contractv1.AmendContractRequest) (*contractv1.AmendContractResponse, error) {
	out, err := resource.Run(ctx, s.res, resource.Change[*contractv1.Contract]{
		Method: contractv1.ContractService_AmendContract_FullMethodName,
		Name:   req.GetName(), Etag: req.GetEtag(), Load: s.lockedContract,
		Allow: func(p auth.Principal, cur *contractv1.Contract) error {
			return s.allowManage(p, cur.GetCommunityCode(), "amend "+req.GetName())
		},
		Apply: func(ctx context.Context, t *resource.Tx, c *contractv1.Contract, v int64) (*contractv1.Contract, int64, error) {
			if domain.Ended(c.GetStatus()) || c.GetStatus() == contractv1.ContractStatus_CONTRACT_STATUS_EXPIRED {
				return nil, 0, apierr.FailedPrecondition("CONTRACT_ENDED", c.GetName()+" is "+statusWord(c.GetStatus())+": its terms can no longer change (renew it instead)")
			}
			terms := proto.Clone(req.GetTerms()).(*contractv1.Terms)
			domain.AssignIDs(terms, domain.Current(c))
			if err := domain.CheckTerms(terms, domain.Parties(c), "terms"); err != nil {
				return nil, 0, err
			}
			reason := strings.TrimSpace(req.GetReason())
			latest := domain.Latest(c)
			if c.GetStatus() == contractv1.ContractStatus_CONTRACT_STATUS_DRAFT {
				// Nobody has been asked to sign: the draft is rewritten.
				latest.Terms, latest.ChangeReason = terms, reason
			} else {
				if reason == "" {
					return nil, 0, apierr.InvalidArgument("reason", "is required: the parties are asked to sign the amendment and read why")
				}
				if p := domain.Pending(c); p != nil {
					p.State = contractv1.VersionState_VERSION_STATE_SUPERSEDED
				}
				c.Versions = append(c.Versions, &contractv1.ContractVersion{
					Number: latest.GetNumber() + 1, State: contractv1.VersionState_VERSION_STATE_PENDING, Terms: terms,
					ChangeReason: reason, CreateTime: timestamppb.New(t.Now),
				})
			}
			nv, err := s.save(ctx, t, c, v, false)
			if err != nil {
				return nil, 0, err
			}
			return c, nv, t.Emit(ctx, c.GetName(), c.GetCommunityCode(), &contractv1.ContractAmended{
				Name: c.GetName(), Project: c.GetProject(), CommunityCode: c.GetCommunityCode(), Version: domain.Latest(c).GetNumber(), Reason: reason,
			})
		},
		View: view,
	})
	if err != nil {
		return nil, err
	}
	return &contractv1.AmendContractResponse{Contract: out}, nil
}

func statusWord(s contractv1.ContractStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "CONTRACT_STATUS_"))
}

// SubmitContract implements contractv1.ContractServiceServer.
func (s *Server) SubmitContract(ctx context.Context, req *contractv1.SubmitContractRequest) (*contractv1.SubmitContractResponse, error) {
	out, err := resource.Run(ctx, s.res, resource.Change[*contractv1.Contract]{
		Method: contractv1.ContractService_SubmitContract_FullMethodName,
		Name:   req.GetName(), Etag: req.GetEtag(), Load: s.lockedContract,
		Allow: func(p auth.Principal, cur *contractv1.Contract) error {
			return s.allowManage(p, cur.GetCommunityCode(), "send "+req.GetName()+" for signature")
		},
		Apply: func(ctx context.Context, t *resource.Tx, c *contractv1.Contract, v int64) (*contractv1.Contract, int64, error) {
			if c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_DRAFT {
				return nil, 0, apierr.FailedPrecondition("NOT_A_DRAFT", c.GetName()+" is "+statusWord(c.GetStatus())+"; only a draft is sent for signature")
			}
			if err := s.moved(ctx, t, c, contractv1.ContractStatus_CONTRACT_STATUS_AWAITING_SIGNATURES, ""); err != nil {
				return nil, 0, err
			}
			nv, err := s.save(ctx, t, c, v, false)
			return c, nv, err
		},
		View: view,
	})
	if err != nil {
		return nil, err
	}
	return &contractv1.SubmitContractResponse{Contract: out}, nil
}

// SignContract implements contractv1.ContractServiceServer.
func (s *Server) SignContract(ctx context.Context, req *contractv1.SignContractRequest) (*contractv1.SignContractResponse, error) {
	party := req.GetParty()
	out, err := resource.Run(ctx, s.res, resource.Change[*contractv1.Contract]{
		Method: contractv1.ContractService_SignContract_FullMethodName,
		Name:   req.GetName(), Load: s.lockedContract,
		Allow: func(p auth.Principal, cur *contractv1.Contract) error {
			// Each party signs for its own side only: the community's staff for the community,
			// a partner's user for that partner.
			if party == domain.CommunityParty {
				if p.HasRole(auth.Managers()...) && p.InScope(s.tree, cur.GetCommunityCode()) {
					return nil
				}
				return apierr.PermissionDenied("NOT_YOUR_PARTY", "only the community's staff sign for the community")
			}
			if partyOf(p) != party {
				return apierr.PermissionDenied("NOT_YOUR_PARTY", "you may sign for your own partner only, not for "+party)
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, c *contractv1.Contract, v int64) (*contractv1.Contract, int64, error) {
			if !domain.IsParty(c, party) {
				return nil, 0, apierr.InvalidArgument("party", party+" is not a party to "+c.GetName())
			}
			switch c.GetStatus() {
			case contractv1.ContractStatus_CONTRACT_STATUS_AWAITING_SIGNATURES, contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE:
			case contractv1.ContractStatus_CONTRACT_STATUS_DRAFT:
				return nil, 0, apierr.FailedPrecondition("NOT_SUBMITTED", c.GetName()+" is still a draft: the community sends it for signature first")
			default:
				return nil, 0, apierr.FailedPrecondition("CONTRACT_ENDED", c.GetName()+" is "+statusWord(c.GetStatus()))
			}
			pending := domain.Pending(c)
			if pending == nil {
				return nil, 0, apierr.FailedPrecondition("NOTHING_TO_SIGN", c.GetName()+" has no version waiting for signatures")
			}
			if req.GetVersion() != pending.GetNumber() {
				if domain.VersionOf(c, req.GetVersion()) != nil {
					return nil, 0, apierr.InvalidArgument("version", "version "+itoa(req.GetVersion())+" is not the one waiting for signatures; sign version "+itoa(pending.GetNumber()))
				}
				return nil, 0, apierr.InvalidArgument("version", c.GetName()+" has no version "+itoa(req.GetVersion()))
			}
			if domain.Signed(pending, party) {
				return nil, 0, apierr.InvalidArgument("party", party+" has already signed version "+itoa(pending.GetNumber()))
			}
			pending.Signatures = append(pending.Signatures, &contractv1.Signature{Party: party, Signer: t.Caller.Subject, SignTime: timestamppb.New(t.Now)})
			if err := t.Emit(ctx, c.GetName(), c.GetCommunityCode(), &contractv1.ContractSigned{
				Name: c.GetName(), Project: c.GetProject(), CommunityCode: c.GetCommunityCode(), Version: pending.GetNumber(), Party: party,
			}); err != nil {
				return nil, 0, err
			}
			if domain.AllSigned(c, pending) {
				if err := s.inForce(ctx, t, c, pending); err != nil {
					return nil, 0, err
				}
			}
			nv, err := s.save(ctx, t, c, v, false)
			return c, nv, err
		},
		View: view,
	})
	if err != nil {
		return nil, err
	}
	return &contractv1.SignContractResponse{Contract: out}, nil
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// inForce puts version v of c in force (every party signed it): the version before is
// superseded, the counts so far carry over, and a contract awaiting signatures is active.
func (s *Server) inForce(ctx context.Context, t *resource.Tx, c *contractv1.Contract, v *contractv1.ContractVersion) error {
	if old := domain.InForce(c); old != nil {
		domain.AssignIDs(v.GetTerms(), old.GetTerms())
		old.State = contractv1.VersionState_VERSION_STATE_SUPERSEDED
	}
	v.State, v.InForceTime = contractv1.VersionState_VERSION_STATE_IN_FORCE, timestamppb.New(t.Now)
	c.InForceVersion = v.GetNumber()
	if c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_AWAITING_SIGNATURES {
		return nil
	}
	// The follow-up starts now: what fell due before the contract bound anyone is not alerted.
	c.ActivateTime, c.SweptTime = timestamppb.New(t.Now), timestamppb.New(t.Now)
	return s.moved(ctx, t, c, contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE, "")
}

// TerminateContract implements contractv1.ContractServiceServer.
func (s *Server) TerminateContract(ctx context.Context, req *contractv1.TerminateContractRequest) (*contractv1.TerminateContractResponse, error) {
	out, err := resource.Run(ctx, s.res, resource.Change[*contractv1.Contract]{
		Method: contractv1.ContractService_TerminateContract_FullMethodName,
		Name:   req.GetName(), Etag: req.GetEtag(), Load: s.lockedContract,
		Allow: func(p auth.Principal, cur *contractv1.Contract) error {
			return s.allowManage(p, cur.GetCommunityCode(), "terminate "+req.GetName())
		},
		Apply: func(ctx context.Context, t *resource.Tx, c *contractv1.Contract, v int64) (*contractv1.Contract, int64, error) {
			if domain.Ended(c.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("CONTRACT_ENDED", c.GetName()+" is already "+statusWord(c.GetStatus()))
			}
			reason := strings.TrimSpace(req.GetReason())
			c.TerminationReason = reason
			if err := s.moved(ctx, t, c, contractv1.ContractStatus_CONTRACT_STATUS_TERMINATED, reason); err != nil {
				return nil, 0, err
			}
			nv, err := s.save(ctx, t, c, v, false)
			return c, nv, err
		},
		View: view,
	})
	if err != nil {
		return nil, err
	}
	return &contractv1.TerminateContractResponse{Contract: out}, nil
}

// EvaluateContract implements contractv1.ContractServiceServer.
func (s *Server) EvaluateContract(ctx context.Context, req *contractv1.EvaluateContractRequest) (*contractv1.EvaluateContractResponse, error) {
	out, err := resource.Run(ctx, s.res, resource.Change[*contractv1.Contract]{
		Method: contractv1.ContractService_EvaluateContract_FullMethodName,
		Name:   req.GetName(), Etag: req.GetEtag(), Load: s.lockedContract,
		Allow: func(p auth.Principal, cur *contractv1.Contract) error {
			return s.allowManage(p, cur.GetCommunityCode(), "evaluate "+req.GetName())
		},
		Apply: func(ctx context.Context, t *resource.Tx, c *contractv1.Contract, v int64) (*contractv1.Contract, int64, error) {
			switch c.GetStatus() {
			case contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE, contractv1.ContractStatus_CONTRACT_STATUS_EXPIRED:
			default:
				return nil, 0, apierr.FailedPrecondition("NOT_EVALUABLE", c.GetName()+" is "+statusWord(c.GetStatus())+"; an active or expired contract is evaluated")
			}
			c.Evaluation = &contractv1.Evaluation{
				Results: domain.Evaluate(domain.InForce(c).GetTerms()), Rating: req.GetRating(), Summary: strings.TrimSpace(req.GetSummary()),
				Outcome: req.GetOutcome(), Evaluator: t.Caller.Subject, EvaluateTime: timestamppb.New(t.Now),
			}
			if err := s.moved(ctx, t, c, req.GetOutcome(), c.GetEvaluation().GetSummary()); err != nil {
				return nil, 0, err
			}
			nv, err := s.save(ctx, t, c, v, false)
			return c, nv, err
		},
		View: view,
	})
	if err != nil {
		return nil, err
	}
	return &contractv1.EvaluateContractResponse{Contract: out}, nil
}

// RenewContract implements contractv1.ContractServiceServer.
func (s *Server) RenewContract(ctx context.Context, req *contractv1.RenewContractRequest) (*contractv1.RenewContractResponse, error) {
	var (
		prev        *contractv1.Contract
		prevVersion int64
	)
	out, err := resource.Run(ctx, s.res, resource.Change[*contractv1.Contract]{
		Method:    contractv1.ContractService_RenewContract_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Refs: func(ctx context.Context, t *resource.Tx, _ *contractv1.Contract) error {
			// The contract renewed is the request's own resource: missing or out of scope is
			// NOT_FOUND, as for any other write on it.
			var err error
			prev, prevVersion, err = s.lockedContract(ctx, t, t.Caller, req.GetName())
			return err
		},
		Allow: func(p auth.Principal, _ *contractv1.Contract) error {
			return s.allowManage(p, prev.GetCommunityCode(), "renew "+req.GetName())
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *contractv1.Contract, _ int64) (*contractv1.Contract, int64, error) {
			switch prev.GetStatus() {
			case contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE, contractv1.ContractStatus_CONTRACT_STATUS_EXPIRED:
			default:
				return nil, 0, apierr.FailedPrecondition("NOT_RENEWABLE", prev.GetName()+" is "+statusWord(prev.GetStatus())+"; an active or expired contract is renewed")
			}
			if prev.GetSuccessor() != "" {
				return nil, 0, apierr.FailedPrecondition("ALREADY_RENEWED", prev.GetName()+" is renewed by "+prev.GetSuccessor())
			}
			terms := req.GetTerms()
			if terms == nil {
				terms = shifted(domain.InForce(prev).GetTerms())
			} else {
				terms = proto.Clone(terms).(*contractv1.Terms)
			}
			domain.AssignIDs(terms, nil)
			c := draft(t, prev, domain.Partners(prev), terms)
			c.Predecessor = prev.GetName()
			if err := domain.CheckTerms(terms, domain.Parties(c), "terms"); err != nil {
				return nil, 0, err
			}
			if err := s.insert(ctx, t, c, ""); err != nil {
				return nil, 0, err
			}
			prev.Successor = c.GetName()
			if _, err := s.save(ctx, t, prev, prevVersion, false); err != nil {
				return nil, 0, err
			}
			return c, 1, t.Emit(ctx, prev.GetName(), prev.GetCommunityCode(), &contractv1.ContractRenewed{
				Name: prev.GetName(), Successor: c.GetName(), CommunityCode: c.GetCommunityCode(),
			})
		},
		View: view,
	})
	if err != nil {
		return nil, err
	}
	return &contractv1.RenewContractResponse{Contract: out}, nil
}

// shifted is t moved to start the day after its end, for the same length; counts cleared.
func shifted(t *contractv1.Terms) *contractv1.Terms {
	out := proto.Clone(t).(*contractv1.Terms)
	start, end, err := domain.Period(t, "terms")
	if err != nil {
		return out
	}
	days := end.DaysSince(start) + 1
	move := func(d interface {
		GetYear() int32
		GetMonth() int32
		GetDay() int32
	}) *calendar.Date {
		x := calendar.Date{Year: int(d.GetYear()), Month: time.Month(d.GetMonth()), Day: int(d.GetDay())}.AddDays(days)
		return &x
	}
	out.StartDate, out.EndDate = move(t.GetStartDate()).Proto(), move(t.GetEndDate()).Proto()
	for _, d := range out.GetDuties() {
		if d.GetDueDate() != nil {
			d.When = &contractv1.Duty_DueDate{DueDate: move(d.GetDueDate()).Proto()}
		}
		d.FulfilmentCount, d.LastFulfilledDate = 0, nil
	}
	for _, m := range out.GetMilestones() {
		m.DueDate, m.ReachedDate = move(m.GetDueDate()).Proto(), nil
	}
	for _, r := range out.GetExpectedResults() {
		r.AchievedValue = 0
	}
	return out
}
