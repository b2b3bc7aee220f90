package api

import (
	"context"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sweep"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
)

const (
	defaultPageSize = 50
	maxPageSize     = 1000
	// dueSoon is how far ahead the board's "due soon" looks.
	dueSoon = 24 * time.Hour
)

// view sets the etag of a case returned to a caller.
func view(_ context.Context, _ auth.Principal, c *escalationv1.Case, version int64) {
	c.Etag = aip.Etag(c.GetName(), version)
}

// demandFacts is what a case copies from its demand.
type demandFacts struct {
	name, community, title, description string
	category                            int32
	households                          int32
	status                              demandv1.DemandStatus
	kind                                demandv1.DemandKind
}

// readDemand asks the demand service for a demand, with this service's own credentials.
// field names the request field that named it, for the error when it does not exist.
func (s *Server) readDemand(ctx context.Context, field, name string) (demandFacts, error) {
	resp, err := s.demands.GetDemand(ctx, &demandv1.GetDemandRequest{Name: name})
	if err != nil {
		return demandFacts{}, apierr.FromPeer(err, "demand", field, name)
	}
	d := resp.GetDemand()
	return demandFacts{
		name: d.GetName(), community: d.GetCommunityCode(), title: d.GetTitle(), description: d.GetDescription(),
		category: int32(d.GetCategory()), households: d.GetHouseholdsAffected(), status: d.GetStatus(), kind: d.GetKind(),
	}, nil
}

// newCase builds the case of demand d opened at now by opener: the rules' suggestion as its
// colour (or the opener's), at that level's office, its clocks started.
func (s *Server) newCase(d demandFacts, households int32, outside bool, opener string, now time.Time) *escalationv1.Case {
	if households == 0 {
		households = d.households
	}
	sug := s.rules.Suggest(rules.Facts{
		Category: typeCategory(d.category), Text: d.title + " " + d.description, Households: int(households), OutsideParty: outside,
	})
	c := &escalationv1.Case{
		Name: aip.NewName("cases"), Demand: d.name, CommunityCode: d.community, SubdistrictCode: s.subdistrictOf(d.community),
		Category: typeCategory(d.category), Title: d.title, HouseholdsAffected: households, OutsideParty: outside,
		SuggestedColour: domain.ProtoColour(sug.Colour), SuggestionReason: sug.Reason, Opener: opener,
		CreateTime: timestamppb.New(now), UpdateTime: timestamppb.New(now),
	}
	s.setColour(c, c.GetSuggestedColour(), now)
	return c
}

func typeCategory(n int32) typev1.Category { return typev1.Category(n) }

// caseable reports whether a demand may have a case: a PROBLEM still open (not gathered into a
// project, not closed or merged).
func caseable(d demandFacts) error {
	if d.kind != demandv1.DemandKind_DEMAND_KIND_PROBLEM {
		return apierr.InvalidArgument("case.demand", d.name+" is a need, not a problem: needs are gathered into projects")
	}
	switch d.status {
	case demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED, demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, demandv1.DemandStatus_DEMAND_STATUS_IN_CASE:
		return nil
	}
	return apierr.FailedPrecondition("DEMAND_NOT_OPEN", d.name+" is "+d.status.String()+"; a case is opened for a submitted or accepted problem")
}

// CreateCase implements escalationv1.CaseServiceServer.
func (s *Server) CreateCase(ctx context.Context, req *escalationv1.CreateCaseRequest) (*escalationv1.CreateCaseResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetCase()
	// The demand is resolved in the caller's scope: read with this service's credentials, then
	// judged against the caller's, so that out of scope reads exactly like missing.
	d, err := s.readDemand(ctx, "case.demand", in.GetDemand())
	if err != nil {
		return nil, err
	}
	if !s.seesCommunity(p, d.community) {
		return nil, apierr.InvalidArgument("case.demand", in.GetDemand()+" does not exist")
	}
	out, err := resource.Run(ctx, s.res, resource.Change[*escalationv1.Case]{
		Method:    escalationv1.CaseService_CreateCase_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Allow: func(p auth.Principal, _ *escalationv1.Case) error {
			if p.HasRole(auth.RoleSystem) && p.InScope(s.tree, d.community) {
				return nil
			}
			if domain.RoleLevel(p) == escalationv1.Level_LEVEL_UNSPECIFIED || !p.InScope(s.tree, d.community) {
				return permissionDenied("open a case for " + d.name)
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *escalationv1.Case, _ int64) (*escalationv1.Case, int64, error) {
			// Here, not before: a retried request returns its case even after the demand moved on.
			if err := caseable(d); err != nil {
				return nil, 0, err
			}
			c := s.newCase(d, in.GetHouseholdsAffected(), in.GetOutsideParty(), t.Caller.Subject, t.Now)
			reply := domain.ReplyOpened(c)
			if want := req.GetColour(); want != escalationv1.Colour_COLOUR_UNSPECIFIED {
				if want != c.GetSuggestedColour() && strings.TrimSpace(req.GetColourReason()) == "" {
					return nil, 0, apierr.InvalidArgument("colour_reason", "is required: "+want.String()+" differs from the rules' suggestion "+
						c.GetSuggestedColour().String()+" ("+c.GetSuggestionReason()+")")
				}
				if want != c.GetColour() {
					s.setColour(c, want, t.Now)
				}
				c.ColourConfirmed, c.ColourReason = true, strings.TrimSpace(req.GetColourReason())
				reply = domain.ReplyOpened(c)
			}
			if err := s.store.InsertCase(ctx, t, c); err != nil {
				return nil, 0, err
			}
			return c, 1, s.record(ctx, t, c, escalationv1.CaseEventKind_CASE_EVENT_KIND_OPENED, c.GetColourReason(), reply)
		},
		Conflict: func() error {
			return apierr.AlreadyExists("the case of " + d.name)
		},
		View: view,
	})
	if err != nil {
		return nil, err
	}
	return &escalationv1.CreateCaseResponse{Case: out}, nil
}

// GetCase implements escalationv1.CaseServiceServer.
func (s *Server) GetCase(ctx context.Context, req *escalationv1.GetCaseRequest) (*escalationv1.GetCaseResponse, error) {
	c, err := resource.Get(ctx, s.res, req.GetName(), s.loadCase, view)
	if err != nil {
		return nil, err
	}
	return &escalationv1.GetCaseResponse{Case: c}, nil
}

// ListCases implements escalationv1.CaseServiceServer.
func (s *Server) ListCases(ctx context.Context, req *escalationv1.ListCasesRequest) (*escalationv1.ListCasesResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	page, next, err := s.store.ListCases(ctx, s.db.Reads(), storeListParams(req, s.scope(p), s.now()))
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	resp := &escalationv1.ListCasesResponse{NextPageToken: next}
	for _, l := range page {
		view(ctx, p, l.Rec, l.Version)
		resp.Cases = append(resp.Cases, l.Rec)
	}
	return resp, nil
}

// ListCaseEvents implements escalationv1.CaseServiceServer.
func (s *Server) ListCaseEvents(ctx context.Context, req *escalationv1.ListCaseEventsRequest) (*escalationv1.ListCaseEventsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.Reads()
	if _, _, err := s.loadCase(ctx, q, p, req.GetParent()); err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	events, next, err := s.store.ListEvents(ctx, q, req.GetParent(), aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize), req.GetPageToken())
	if err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	return &escalationv1.ListCaseEventsResponse{Events: events, NextPageToken: next}, nil
}

// GetCaseBoard implements escalationv1.CaseServiceServer.
func (s *Server) GetCaseBoard(ctx context.Context, req *escalationv1.GetCaseBoardRequest) (*escalationv1.GetCaseBoardResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	r := req.GetRegionCode()
	if r != "" {
		if err := s.tree.Validate(r); err != nil {
			return nil, apierr.InvalidArgument("region_code", err.Error())
		}
		if !s.seesCommunity(p, r) {
			return nil, apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "region "+r+" is outside your region scope")
		}
		if r == s.tree.Root().Code {
			r = ""
		}
	}
	q := s.db.Reads()
	scope, now := s.scope(p), s.now()
	got, err := s.boards.get(ctx, boardKey(scope, r), now, func(ctx context.Context) (store.Board, time.Time, error) {
		// On the main pool, planned for the moment's bounds: a plan made once for any bounds
		// (Reads) guesses a third of the cases in each range and sends workers in parallel,
		// whose start costs more than counting the thousand or so the range holds.
		b, err := s.store.Board(ctx, s.db, scope, r, now, now.Add(dueSoon))
		if err != nil {
			return store.Board{}, time.Time{}, err
		}
		last, _, err := sweep.LastRun(ctx, q, SweepJob)
		return b, last, err
	})
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	b := got.board
	// read_time is the moment counted, which a cached board is at most s.boards' ttl before.
	resp := &escalationv1.GetCaseBoardResponse{RegionCode: req.GetRegionCode(), ReadTime: timestamppb.New(got.now)}
	for _, c := range []escalationv1.Colour{escalationv1.Colour_COLOUR_GREEN, escalationv1.Colour_COLOUR_YELLOW, escalationv1.Colour_COLOUR_RED} {
		l := b.Colours[c]
		resp.Colours = append(resp.Colours, &escalationv1.ColourCount{
			Colour: c, Level: domain.LevelOf(c), Open: int32(l.Open), Overdue: int32(l.Overdue), DueSoon: int32(l.DueSoon), Escalated: int32(l.Escalated),
			AcknowledgeOverdue: int32(l.AcknowledgeOverdue), AcknowledgeDueSoon: int32(l.AcknowledgeDueSoon),
			ReplyOverdue: int32(l.ReplyOverdue), ReplyDueSoon: int32(l.ReplyDueSoon),
		})
		resp.Open += int32(l.Open)
		resp.Overdue += int32(l.Overdue)
		resp.AcknowledgeOverdue += int32(l.AcknowledgeOverdue)
		resp.ReplyOverdue += int32(l.ReplyOverdue)
	}
	for _, u := range b.Units {
		resp.Units = append(resp.Units, &escalationv1.UnitCount{Unit: u.Unit, UnitDisplayName: s.unitName(u.Unit), Open: int32(u.Open), Overdue: int32(u.Overdue),
			AcknowledgeOverdue: int32(u.AcknowledgeOverdue), ReplyOverdue: int32(u.ReplyOverdue)})
	}
	sortUnits(resp.Units)
	if !got.last.IsZero() {
		resp.LastSweepTime = timestamppb.New(got.last)
	}
	return resp, nil
}

// change runs one step of a case for the caller: the case locked and loaded in scope, allow
// judged, the etag checked, apply made (it returns the new version), the result viewed.
func (s *Server) change(ctx context.Context, method, name, etag string,
	allow func(p auth.Principal, c *escalationv1.Case) error,
	apply func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error)) (*escalationv1.Case, error) {
	return resource.Run(ctx, s.res, resource.Change[*escalationv1.Case]{
		Method: method, Name: name, Etag: etag, Load: s.lockedCase, Allow: allow,
		Apply: func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (*escalationv1.Case, int64, error) {
			nv, err := apply(ctx, t, c, v)
			if err != nil {
				return nil, 0, err
			}
			return c, nv, nil
		},
		View: view,
	})
}

// mustBeOpen refuses a step on a resolved or closed case.
func mustBeOpen(c *escalationv1.Case) error {
	if !domain.Open(c.GetStatus()) {
		return apierr.FailedPrecondition("CASE_CLOSED", c.GetName()+" is "+c.GetStatus().String()+"; an unsatisfied rating reopens it")
	}
	return nil
}

// ClassifyCase implements escalationv1.CaseServiceServer.
func (s *Server) ClassifyCase(ctx context.Context, req *escalationv1.ClassifyCaseRequest) (*escalationv1.ClassifyCaseResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_ClassifyCase_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error {
			return s.allowAtLevel(p, c, "classify "+c.GetName())
		},
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			reason := strings.TrimSpace(req.GetReason())
			if req.GetColour() != c.GetSuggestedColour() && reason == "" {
				return 0, apierr.InvalidArgument("reason", "is required: "+req.GetColour().String()+" differs from the rules' suggestion "+
					c.GetSuggestedColour().String()+" ("+c.GetSuggestionReason()+")")
			}
			changed := req.GetColour() != c.GetColour()
			if changed {
				s.setColour(c, req.GetColour(), t.Now)
			}
			c.ColourConfirmed, c.ColourReason = true, reason
			return s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_CLASSIFIED, reason, domain.ReplyClassified(c, changed, reason))
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.ClassifyCaseResponse{Case: out}, nil
}

// AssignCase implements escalationv1.CaseServiceServer.
func (s *Server) AssignCase(ctx context.Context, req *escalationv1.AssignCaseRequest) (*escalationv1.AssignCaseResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_AssignCase_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error { return s.allowAtLevel(p, c, "assign "+c.GetName()) },
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			if err := s.checkUnit(c, req.GetUnit()); err != nil {
				return 0, err
			}
			c.Unit, c.UnitDisplayName, c.Assignee = req.GetUnit(), s.unitName(req.GetUnit()), req.GetAssignee()
			c.Status, c.AcknowledgeTime = escalationv1.CaseStatus_CASE_STATUS_ASSIGNED, nil
			return s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_ASSIGNED, "", domain.ReplyAssigned(c))
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.AssignCaseResponse{Case: out}, nil
}

// AcceptCase implements escalationv1.CaseServiceServer.
func (s *Server) AcceptCase(ctx context.Context, req *escalationv1.AcceptCaseRequest) (*escalationv1.AcceptCaseResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_AcceptCase_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error {
			if !s.actsForUnit(p, c) {
				return permissionDenied("accept " + c.GetName() + " for " + c.GetUnitDisplayName())
			}
			return nil
		},
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			if c.GetStatus() != escalationv1.CaseStatus_CASE_STATUS_ASSIGNED {
				return 0, apierr.FailedPrecondition("NOT_ASSIGNED", c.GetName()+" is "+c.GetStatus().String()+"; a unit accepts a case assigned to it")
			}
			c.Status, c.AcknowledgeTime = escalationv1.CaseStatus_CASE_STATUS_ACCEPTED, timestamppb.New(t.Now)
			if strings.TrimSpace(req.GetReply()) != "" {
				c.ReplyTime = timestamppb.New(t.Now)
			}
			return s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_ACCEPTED, "", domain.ReplyAccepted(c, req.GetReply()))
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.AcceptCaseResponse{Case: out}, nil
}

// HandBackCase implements escalationv1.CaseServiceServer.
func (s *Server) HandBackCase(ctx context.Context, req *escalationv1.HandBackCaseRequest) (*escalationv1.HandBackCaseResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_HandBackCase_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error {
			if !s.actsForUnit(p, c) {
				return permissionDenied("hand " + c.GetName() + " back for " + c.GetUnitDisplayName())
			}
			return nil
		},
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			if !strings.HasPrefix(c.GetUnit(), domain.DepartmentUnitPrefix) {
				return 0, apierr.FailedPrecondition("NOT_A_DEPARTMENT", c.GetName()+" is with "+c.GetUnitDisplayName()+
					", its level's own office: reclassify, escalate or de-escalate it instead")
			}
			from := c.GetUnitDisplayName()
			s.toOffice(c)
			c.Status = escalationv1.CaseStatus_CASE_STATUS_HANDED_BACK
			return s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_HANDED_BACK, req.GetReason(), domain.ReplyHandedBack(c, from, req.GetReason()))
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.HandBackCaseResponse{Case: out}, nil
}

// RequestExtension implements escalationv1.CaseServiceServer.
func (s *Server) RequestExtension(ctx context.Context, req *escalationv1.RequestExtensionRequest) (*escalationv1.RequestExtensionResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_RequestExtension_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error {
			if !s.actsForUnit(p, c) {
				return permissionDenied("ask for more time on " + c.GetName() + " for " + c.GetUnitDisplayName())
			}
			return nil
		},
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			deadline := c.GetResolveDeadline().AsTime()
			if !t.Now.Before(deadline) {
				return 0, apierr.FailedPrecondition("DEADLINE_PASSED", c.GetName()+" was due "+domain.ExpectedDate(deadline)+"; more time is asked for before the deadline")
			}
			ext := c.GetExtension()
			if ext.GetState() == escalationv1.ExtensionState_EXTENSION_STATE_PENDING {
				return 0, apierr.FailedPrecondition("EXTENSION_PENDING", c.GetName()+" already has a request waiting for the level above")
			}
			// Counted from the last day the deadline covers (a working-day deadline is the
			// midnight after it), so one more working day after a Thursday is the Friday.
			asked := s.rules.Calendar().AddWorkdays(deadline.Add(-time.Nanosecond), int(req.GetWorkdays()))
			if ext.GetState() == escalationv1.ExtensionState_EXTENSION_STATE_REFUSED && !asked.Before(ext.GetRequestedDeadline().AsTime()) {
				return 0, apierr.InvalidArgument("workdays", "the level above refused a deadline of "+
					domain.ExpectedDate(ext.GetRequestedDeadline().AsTime())+"; ask for less")
			}
			c.Extension = &escalationv1.Extension{
				State: escalationv1.ExtensionState_EXTENSION_STATE_PENDING, Workdays: req.GetWorkdays(),
				RequestedDeadline: timestamppb.New(asked), Reason: req.GetReason(), RequestTime: timestamppb.New(t.Now),
			}
			return s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_EXTENSION_REQUESTED, req.GetReason(), "")
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.RequestExtensionResponse{Case: out}, nil
}

// DecideExtension implements escalationv1.CaseServiceServer.
func (s *Server) DecideExtension(ctx context.Context, req *escalationv1.DecideExtensionRequest) (*escalationv1.DecideExtensionResponse, error) {
	if !req.GetGrant() && strings.TrimSpace(req.GetReason()) == "" {
		return nil, apierr.InvalidArgument("reason", "is required to refuse")
	}
	out, err := s.change(ctx, escalationv1.CaseService_DecideExtension_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error {
			if !s.decidesExtension(p, c) {
				return permissionDenied("decide on more time for " + c.GetName() + ": the level above " + c.GetUnitDisplayName() + " decides")
			}
			return nil
		},
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			ext := c.GetExtension()
			if ext.GetState() != escalationv1.ExtensionState_EXTENSION_STATE_PENDING {
				return 0, apierr.FailedPrecondition("NO_EXTENSION_PENDING", c.GetName()+" has no request for more time waiting")
			}
			ext.DecisionReason = strings.TrimSpace(req.GetReason())
			reply := ""
			if req.GetGrant() {
				ext.State = escalationv1.ExtensionState_EXTENSION_STATE_GRANTED
				c.ResolveDeadline = ext.GetRequestedDeadline()
				if e := c.GetEscalateTime(); e != nil && e.AsTime().Before(c.GetResolveDeadline().AsTime()) {
					// The case does not move up before the time granted runs out.
					c.EscalateTime = c.GetResolveDeadline()
				}
				start := c.GetLevelStartTime().AsTime()
				c.WarnTime = timestamppb.New(start.Add(time.Duration(float64(c.GetResolveDeadline().AsTime().Sub(start)) * domain.WarnShare)))
				c.Warned = false
				reply = domain.ReplyExtended(c, ext.GetReason())
			} else {
				ext.State = escalationv1.ExtensionState_EXTENSION_STATE_REFUSED
			}
			return s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_EXTENSION_DECIDED, ext.GetDecisionReason(), reply)
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.DecideExtensionResponse{Case: out}, nil
}

// ReplyToCase implements escalationv1.CaseServiceServer.
func (s *Server) ReplyToCase(ctx context.Context, req *escalationv1.ReplyToCaseRequest) (*escalationv1.ReplyToCaseResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_ReplyToCase_FullMethodName, req.GetName(), "",
		func(p auth.Principal, c *escalationv1.Case) error {
			if !s.actsForUnit(p, c) {
				return permissionDenied("reply on " + c.GetName() + " for " + c.GetUnitDisplayName())
			}
			return nil
		},
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			c.ReplyTime = timestamppb.New(t.Now)
			return s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_REPLIED, "", req.GetMessage())
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.ReplyToCaseResponse{Case: out}, nil
}

// escalate moves c up one level at start (its clocks restart there); auto for the sweeper.
func (s *Server) escalate(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64, start time.Time, auto bool, reason string) (int64, error) {
	up, ok := domain.RuleColour(c.GetColour()).Above()
	if !ok {
		return 0, apierr.FailedPrecondition("TOP_OF_LADDER", c.GetName()+" is red: the district is the top of the ladder")
	}
	s.setColour(c, domain.ProtoColour(up), start)
	c.EscalationCount++
	// Automatic escalation is the sweeper's, which holds the row.
	return s.stepAs(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_ESCALATED, reason, domain.ReplyEscalated(c, auto, reason), auto)
}

// EscalateCase implements escalationv1.CaseServiceServer.
func (s *Server) EscalateCase(ctx context.Context, req *escalationv1.EscalateCaseRequest) (*escalationv1.EscalateCaseResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_EscalateCase_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error {
			return s.allowAtLevel(p, c, "escalate "+c.GetName())
		},
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			return s.escalate(ctx, t, c, v, t.Now, false, req.GetReason())
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.EscalateCaseResponse{Case: out}, nil
}

// DeescalateCase implements escalationv1.CaseServiceServer.
func (s *Server) DeescalateCase(ctx context.Context, req *escalationv1.DeescalateCaseRequest) (*escalationv1.DeescalateCaseResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_DeescalateCase_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error {
			return s.allowAtLevel(p, c, "de-escalate "+c.GetName())
		},
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			if err := mustBeOpen(c); err != nil {
				return 0, err
			}
			down, ok := domain.RuleColour(c.GetColour()).Below()
			if !ok {
				return 0, apierr.FailedPrecondition("BELOW_GREEN", c.GetName()+" is green, the community's own: there is no level below it")
			}
			s.setColour(c, domain.ProtoColour(down), t.Now)
			return s.step(ctx, t, c, v, escalationv1.CaseEventKind_CASE_EVENT_KIND_DEESCALATED, req.GetReason(), domain.ReplyDeescalated(c, req.GetReason()))
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.DeescalateCaseResponse{Case: out}, nil
}

// close ends c with an outcome: status, the note or reason, the reply.
func (s *Server) close(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64, to escalationv1.CaseStatus, text string) (int64, error) {
	if err := mustBeOpen(c); err != nil {
		return 0, err
	}
	text = strings.TrimSpace(text)
	c.Status, c.OutcomeTime = to, timestamppb.New(t.Now)
	c.OutcomeCount++
	kind, reply := escalationv1.CaseEventKind_CASE_EVENT_KIND_RESOLVED, domain.ReplyResolved(text)
	if to == escalationv1.CaseStatus_CASE_STATUS_RESOLVED {
		c.ResolutionNote, c.CloseReason = text, ""
	} else {
		c.CloseReason, c.ResolutionNote = text, ""
		kind, reply = escalationv1.CaseEventKind_CASE_EVENT_KIND_CLOSED_UNRESOLVED, domain.ReplyClosedUnresolved(text)
	}
	return s.step(ctx, t, c, v, kind, text, reply)
}

// allowClose: the unit responsible or an official of the case's level or above; a community
// cannot close a red case.
func (s *Server) allowClose(p auth.Principal, c *escalationv1.Case, what string) error {
	if s.actsForUnit(p, c) {
		return nil
	}
	return s.allowAtLevel(p, c, what)
}

// ResolveCase implements escalationv1.CaseServiceServer.
func (s *Server) ResolveCase(ctx context.Context, req *escalationv1.ResolveCaseRequest) (*escalationv1.ResolveCaseResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_ResolveCase_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error { return s.allowClose(p, c, "resolve "+c.GetName()) },
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			return s.close(ctx, t, c, v, escalationv1.CaseStatus_CASE_STATUS_RESOLVED, req.GetResolutionNote())
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.ResolveCaseResponse{Case: out}, nil
}

// CloseCaseUnresolved implements escalationv1.CaseServiceServer.
func (s *Server) CloseCaseUnresolved(ctx context.Context, req *escalationv1.CloseCaseUnresolvedRequest) (*escalationv1.CloseCaseUnresolvedResponse, error) {
	out, err := s.change(ctx, escalationv1.CaseService_CloseCaseUnresolved_FullMethodName, req.GetName(), req.GetEtag(),
		func(p auth.Principal, c *escalationv1.Case) error { return s.allowClose(p, c, "close "+c.GetName()) },
		func(ctx context.Context, t *resource.Tx, c *escalationv1.Case, v int64) (int64, error) {
			return s.close(ctx, t, c, v, escalationv1.CaseStatus_CASE_STATUS_CLOSED_UNRESOLVED, req.GetReason())
		})
	if err != nil {
		return nil, err
	}
	return &escalationv1.CloseCaseUnresolvedResponse{Case: out}, nil
}

// lockedByDemand reads and locks the case of demand, for the feed.
func (s *Server) lockedByDemand(ctx context.Context, tx sqlstore.Tx, demand string) (*escalationv1.Case, int64, error) {
	c, _, err := s.store.CaseOfDemand(ctx, tx, demand)
	if err != nil {
		return nil, 0, err
	}
	if err := s.store.LockCase(ctx, tx, c.GetName()); err != nil {
		return nil, 0, err
	}
	return s.store.GetCase(ctx, tx, c.GetName())
}
