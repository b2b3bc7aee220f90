package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
)

// projectUpdatable are the fields UpdateProject may change; status, demands and partners move
// through their own methods.
var projectUpdatable = []string{"title", "description", "category", "list_type", "required_tags", "schedule",
	"start_date", "venue", "expected_beneficiaries", "budget_fen"}

// CreateProject implements demandv1.DemandServiceServer.
func (s *Server) CreateProject(ctx context.Context, req *demandv1.CreateProjectRequest) (*demandv1.CreateProjectResponse, error) {
	in := req.GetProject()
	if err := s.checkProjectFields("project", in); err != nil {
		return nil, err
	}
	var joining []joiner
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Project]{
		Method:    demandv1.DemandService_CreateProject_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Refs: func(ctx context.Context, t *resource.Tx, _ *demandv1.Project) error {
			var err error
			joining, err = s.joiners(ctx, t, in.GetCommunityCode(), "project.demands", in.GetDemands())
			return err
		},
		Allow: func(p auth.Principal, _ *demandv1.Project) error {
			if !s.canManage(p, in.GetCommunityCode()) {
				return apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "community "+in.GetCommunityCode()+" is outside your region scope")
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *demandv1.Project, _ int64) (*demandv1.Project, int64, error) {
			now := timestamppb.New(t.Now)
			rec := proto.Clone(in).(*demandv1.Project)
			rec.Name = aip.NewName("projects")
			rec.Status = demandv1.ProjectStatus_PROJECT_STATUS_PROPOSED
			rec.MatchedPartners, rec.Declined, rec.Etag = nil, nil, ""
			rec.CreateTime, rec.UpdateTime = now, now
			if err := s.gather(ctx, t, rec, joining); err != nil {
				return nil, 0, err
			}
			if err := s.store.InsertProject(ctx, t, rec); err != nil {
				return nil, 0, err
			}
			if err := t.Emit(ctx, rec.GetName(), rec.GetCommunityCode(), &demandv1.ProjectStatusChanged{
				Name: rec.GetName(), CommunityCode: rec.GetCommunityCode(), ToStatus: rec.GetStatus(), ListType: rec.GetListType(),
			}); err != nil {
				return nil, 0, err
			}
			return proto.Clone(rec).(*demandv1.Project), 1, nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.CreateProjectResponse{Project: out}, nil
}

// joiner is a demand about to join a project, as read in the caller's scope.
type joiner struct {
	demand  *demandv1.Demand
	version int64
}

// joiners resolves the demands a request's field lists, in the caller's scope, as joiners of
// a project of community: each must be an accepted need of that community.
func (s *Server) joiners(ctx context.Context, t *resource.Tx, community, field string, demands []string) ([]joiner, error) {
	out := make([]joiner, 0, len(demands))
	for i, name := range demands {
		field := fmt.Sprintf("%s[%d]", field, i)
		d, v, err := resource.Ref(ctx, t, field, name, s.loadDemand)
		if err != nil {
			return nil, err
		}
		switch {
		case d.GetCommunityCode() != community:
			return nil, apierr.InvalidArgument(field, name+" is in another community ("+s.tree.Name(d.GetCommunityCode())+")")
		case d.GetKind() != demandv1.DemandKind_DEMAND_KIND_NEED:
			return nil, apierr.InvalidArgument(field, name+" is a problem; problems are handled as cases, needs become projects")
		case d.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED:
			return nil, apierr.InvalidArgument(field, name+" is "+d.GetStatus().String()+"; only accepted needs join a project")
		}
		out = append(out, joiner{demand: d, version: v})
	}
	return out, nil
}

// gather moves the joiners into the project, each with a reply on its timeline.
func (s *Server) gather(ctx context.Context, t *resource.Tx, pr *demandv1.Project, joining []joiner) error {
	msg := "您的诉求已纳入社区项目《" + pr.GetTitle() + "》，将随项目一并办理。"
	for _, j := range joining {
		j.demand.Project = pr.GetName()
		if _, err := s.moveDemand(ctx, t, j.demand, j.version, demandv1.DemandStatus_DEMAND_STATUS_IN_PROJECT,
			demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE, msg); err != nil {
			return err
		}
	}
	return nil
}

// checkProjectFields applies the rules the proto cannot state.
func (s *Server) checkProjectFields(field string, pr *demandv1.Project) error {
	if err := s.checkCommunity(field+".community_code", pr.GetCommunityCode()); err != nil {
		return err
	}
	if d := pr.GetStartDate(); d != "" {
		if _, err := domain.ParseDate(d); err != nil {
			return apierr.InvalidArgument(field+".start_date", err.Error())
		}
	}
	return nil
}

// GetProject implements demandv1.DemandServiceServer.
func (s *Server) GetProject(ctx context.Context, req *demandv1.GetProjectRequest) (*demandv1.GetProjectResponse, error) {
	pr, err := resource.Get(ctx, s.res, req.GetName(), s.loadProject, nil)
	if err != nil {
		return nil, err
	}
	return &demandv1.GetProjectResponse{Project: pr}, nil
}

// loadProject is the resource.Loader of projects: a project of a community the caller does
// not see does not exist for them.
func (s *Server) loadProject(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*demandv1.Project, int64, error) {
	return inCommunity[*demandv1.Project](s, p)(s.store.GetProject(ctx, q, name))
}

// ListProjects implements demandv1.DemandServiceServer.
func (s *Server) ListProjects(ctx context.Context, req *demandv1.ListProjectsRequest) (*demandv1.ListProjectsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	listed, next, err := s.store.ListProjects(ctx, s.db.Reads(), store.ProjectListParams{
		Filter: req.GetFilter(), PageToken: req.GetPageToken(),
		PageSize: aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize), Scope: s.communities(p),
	})
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	resp := &demandv1.ListProjectsResponse{NextPageToken: next}
	for _, l := range listed {
		l.Rec.Etag = aip.Etag(l.Rec.GetName(), l.Version)
		resp.Projects = append(resp.Projects, l.Rec)
	}
	return resp, nil
}

// UpdateProject implements demandv1.DemandServiceServer.
func (s *Server) UpdateProject(ctx context.Context, req *demandv1.UpdateProjectRequest) (*demandv1.UpdateProjectResponse, error) {
	in := req.GetProject()
	name := in.GetName()
	if !aip.ValidName(name, "projects") {
		return nil, apierr.InvalidArgument("project.name", "must be projects/{id}")
	}
	out, err := s.editProject(ctx, demandv1.DemandService_UpdateProject_FullMethodName, name, in.GetEtag(), "change",
		func(ctx context.Context, t *resource.Tx, cur *demandv1.Project, v int64) (*demandv1.Project, int64, error) {
			if st := cur.GetStatus(); domain.ProjectEnded(st) {
				return nil, 0, apierr.FailedPrecondition("PROJECT_ENDED", name+" is "+domain.ProjectStatusLabel(st)+" and no longer changes")
			}
			next, err := resource.Merge("project", cur, in, req.GetUpdateMask(), projectUpdatable)
			if err != nil {
				return nil, 0, err
			}
			if err := s.checkProjectFields("project", next); err != nil {
				return nil, 0, err
			}
			next.UpdateTime = timestamppb.New(t.Now)
			version, err := s.store.UpdateProject(ctx, t, next, v)
			return next, version, err
		})
	if err != nil {
		return nil, err
	}
	return &demandv1.UpdateProjectResponse{Project: out}, nil
}

// editProject changes the project called name through the write path, for a caller who
// manages its community and, when etag is set, holds its current version; what names the
// change in a refusal ("move", …). apply makes the change and returns the project and its new
// version.
func (s *Server) editProject(ctx context.Context, method, name, etag, what string,
	apply func(ctx context.Context, t *resource.Tx, pr *demandv1.Project, version int64) (*demandv1.Project, int64, error),
) (*demandv1.Project, error) {
	return resource.Run(ctx, s.res, resource.Change[*demandv1.Project]{
		Method: method, Name: name, Etag: etag, Load: s.loadProject,
		Allow: func(p auth.Principal, pr *demandv1.Project) error {
			return s.allowManage(p, pr.GetCommunityCode(), what+" "+name)
		},
		Apply: apply,
	})
}

// ChangeProjectStatus implements demandv1.DemandServiceServer.
func (s *Server) ChangeProjectStatus(ctx context.Context, req *demandv1.ChangeProjectStatusRequest) (*demandv1.ChangeProjectStatusResponse, error) {
	name, to := req.GetName(), req.GetStatus()
	out, err := s.editProject(ctx, demandv1.DemandService_ChangeProjectStatus_FullMethodName, name, req.GetEtag(), "move",
		func(ctx context.Context, t *resource.Tx, pr *demandv1.Project, v int64) (*demandv1.Project, int64, error) {
			if !domain.ProjectMoveAllowed(pr.GetStatus(), to) {
				return nil, 0, apierr.FailedPrecondition("INVALID_TRANSITION", "cannot move "+name+" from "+pr.GetStatus().String()+" to "+to.String())
			}
			// A project with a contract moves with it (the contract service's feed): while the
			// contract binds, not by hand at all; once one exists, never by hand into the
			// statuses only signatures and fulfilment reach. Once its contract expired, the
			// community's staff decide: closing the project by hand (COMPLETED or CANCELLED) is
			// theirs, unless a renewal already awaits the parties' signatures.
			if contract, st, err := s.store.ProjectContract(ctx, t, name); err == nil {
				expired := pr.GetStatus() == demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_EXPIRED
				switch cs := contractv1.ContractStatus(st); {
				case expired && cs == contractv1.ContractStatus_CONTRACT_STATUS_AWAITING_SIGNATURES:
					return nil, 0, apierr.FailedPrecondition("RENEWAL_UNDER_WAY", name+"'s renewal "+contract+
						" awaits the parties' signatures: terminate it to close the project instead")
				case UnderContract(st) && (!expired || cs != contractExpired):
					return nil, 0, apierr.FailedPrecondition("UNDER_CONTRACT", name+" is under contract "+contract+
						": it moves with the contract (terminate or evaluate the contract instead)")
				}
				switch {
				case to == demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED, to == demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING,
					to == demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED && !expired:
					return nil, 0, apierr.FailedPrecondition("UNDER_CONTRACT", name+" has contract "+contract+
						": it becomes "+domain.ProjectStatusLabel(to)+" when the contract says so, not by hand")
				}
			} else if !errors.Is(err, sqlstore.ErrNotFound) {
				return nil, 0, err
			}
			if to == demandv1.ProjectStatus_PROJECT_STATUS_CANCELLED || to == demandv1.ProjectStatus_PROJECT_STATUS_MATCHING {
				// The partners are released: they are no longer committed to it.
				pr.MatchedPartners = nil
			}
			version, err := s.moveProject(ctx, t, pr, v, to, req.GetReply())
			return pr, version, err
		})
	if err != nil {
		return nil, err
	}
	return &demandv1.ChangeProjectStatusResponse{Project: out}, nil
}

// maxProjectDemands is how many demands a project may gather, as Project.demands states.
const maxProjectDemands = 200

// AddProjectDemands implements demandv1.DemandServiceServer.
func (s *Server) AddProjectDemands(ctx context.Context, req *demandv1.AddProjectDemandsRequest) (*demandv1.AddProjectDemandsResponse, error) {
	name := req.GetName()
	var joining []joiner
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Project]{
		Method: demandv1.DemandService_AddProjectDemands_FullMethodName,
		Name:   name, Etag: req.GetEtag(), Load: s.loadProject,
		Refs: func(ctx context.Context, t *resource.Tx, pr *demandv1.Project) error {
			var err error
			joining, err = s.joiners(ctx, t, pr.GetCommunityCode(), "demands", req.GetDemands())
			return err
		},
		Allow: func(p auth.Principal, pr *demandv1.Project) error {
			return s.allowManage(p, pr.GetCommunityCode(), "add demands to "+name)
		},
		Apply: func(ctx context.Context, t *resource.Tx, pr *demandv1.Project, v int64) (*demandv1.Project, int64, error) {
			if st := pr.GetStatus(); domain.ProjectEnded(st) {
				return nil, 0, apierr.FailedPrecondition("PROJECT_ENDED", name+" is "+domain.ProjectStatusLabel(st)+" and gathers no more demands")
			}
			if n := len(pr.GetDemands()) + len(req.GetDemands()); n > maxProjectDemands {
				return nil, 0, apierr.InvalidArgument("demands", fmt.Sprintf("the project would gather %d demands; at most %d", n, maxProjectDemands))
			}
			if err := s.gather(ctx, t, pr, joining); err != nil {
				return nil, 0, err
			}
			pr.Demands = append(pr.Demands, req.GetDemands()...)
			pr.UpdateTime = timestamppb.New(t.Now)
			version, err := s.store.UpdateProject(ctx, t, pr, v)
			return pr, version, err
		},
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.AddProjectDemandsResponse{Project: out}, nil
}

// moveProject stores a project's new status and makes its demands follow: each gets reply on
// its timeline, and a completed or cancelled project moves them on (see
// domain.DemandFollowsProject). It returns the project's new version.
func (s *Server) moveProject(ctx context.Context, t *resource.Tx, pr *demandv1.Project, version int64,
	to demandv1.ProjectStatus, reply string) (int64, error) {
	from := pr.GetStatus()
	pr.Status, pr.UpdateTime = to, timestamppb.New(t.Now)
	v, err := s.store.UpdateProject(ctx, t, pr, version)
	if err != nil {
		return 0, err
	}
	msg := "项目《" + pr.GetTitle() + "》" + domain.ProjectStatusLabel(to) + "：" + reply
	for _, name := range pr.GetDemands() {
		d, dv, err := s.store.GetDemand(ctx, t, name)
		if err != nil {
			return 0, fmt.Errorf("demand %s of %s: %w", name, pr.GetName(), err)
		}
		next, follows := domain.DemandFollowsProject(to)
		if follows && d.GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_IN_PROJECT {
			if next == demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED {
				// Back on the needs list, free to join another project.
				d.Project = ""
			}
			if _, err := s.moveDemand(ctx, t, d, dv, next, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_PROJECT_UPDATE, msg); err != nil {
				return 0, err
			}
			continue
		}
		if err := s.store.AppendTimeline(ctx, t, s.entry(t, name, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_PROJECT_UPDATE, d.GetStatus(), d.GetStatus(), msg)); err != nil {
			return 0, err
		}
	}
	return v, t.Emit(ctx, pr.GetName(), pr.GetCommunityCode(), &demandv1.ProjectStatusChanged{
		Name: pr.GetName(), CommunityCode: pr.GetCommunityCode(), FromStatus: from, ToStatus: to, ListType: pr.GetListType(),
	})
}

// partnerWait bounds how long a call waits for the partner service to be reachable. Waiting
// at all rides out a reconnection (partner restarting, or this replica's connection backing
// off after a failed attempt) instead of failing at once; bounding it answers a user
// promptly when partner is really down.
const partnerWait = 3 * time.Second

// partnerCall returns the context for a call to the partner service: the caller's, ended
// after partnerWait at the latest. Calls pass grpc.WaitForReady(true) with it.
func partnerCall(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, partnerWait)
}

// AcceptMatch implements demandv1.DemandServiceServer.
func (s *Server) AcceptMatch(ctx context.Context, req *demandv1.AcceptMatchRequest) (*demandv1.AcceptMatchResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	pr, _, err := s.loadProject(ctx, s.db.Reads(), p, name)
	if err != nil {
		return nil, apierr.FromCall(err, name)
	}
	if err := s.allowManage(p, pr.GetCommunityCode(), "accept partners for "+name); err != nil {
		return nil, err
	}
	// The partners must be active now; asked before the transaction, so that a partner
	// service outage changes nothing.
	displays, err := s.activePartners(ctx, p, req.GetPartners())
	if err != nil {
		return nil, err
	}
	out, err := s.editProject(ctx, demandv1.DemandService_AcceptMatch_FullMethodName, name, req.GetEtag(), "accept partners for",
		func(ctx context.Context, t *resource.Tx, pr *demandv1.Project, v int64) (*demandv1.Project, int64, error) {
			if !domain.Matchable(pr.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("NOT_MATCHABLE", name+" is "+domain.ProjectStatusLabel(pr.GetStatus())+"; partners are accepted for approved projects")
			}
			pr.MatchedPartners = slices.Clone(req.GetPartners())
			// Accepting a partner declined earlier overrules that decision.
			pr.Declined = slices.DeleteFunc(pr.Declined, func(d *demandv1.DeclinedCandidate) bool {
				return slices.Contains(req.GetPartners(), d.GetPartner())
			})
			reply := req.GetReply()
			if reply == "" {
				reply = "已匹配合伙人" + strings.Join(displays, "、") + "，正在签订共建契约。"
			}
			version, err := s.moveProject(ctx, t, pr, v, demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING, reply)
			if err != nil {
				return nil, 0, err
			}
			feedCopy := proto.Clone(pr).(*demandv1.Project)
			feedCopy.Etag = ""
			return pr, version, t.Emit(ctx, name, pr.GetCommunityCode(), &demandv1.ProjectMatched{Project: feedCopy, Partners: pr.GetMatchedPartners()})
		})
	if err != nil {
		return nil, err
	}
	return &demandv1.AcceptMatchResponse{Project: out}, nil
}

// activePartners asks the partner service for each partner and returns their display names.
// The service asks as itself, so each answer is judged here in the caller's scope, by the
// partner service's own rule (a party concerns the caller when its region or one of its
// service areas overlaps the caller's scope): one the caller may not see reads like one that
// does not exist. One that is not active is an invalid argument.
func (s *Server) activePartners(ctx context.Context, p auth.Principal, names []string) ([]string, error) {
	ctx, cancel := partnerCall(ctx)
	defer cancel()
	out := make([]string, 0, len(names))
	for i, n := range names {
		field := fmt.Sprintf("partners[%d]", i)
		var display string
		var st partnerv1.PartnerStatus
		var places []string
		var err error
		if strings.HasPrefix(n, "partnerGroups/") {
			var r *partnerv1.GetPartnerGroupResponse
			if r, err = s.partners.GetPartnerGroup(ctx, &partnerv1.GetPartnerGroupRequest{Name: n}, grpc.WaitForReady(true)); err == nil {
				g := r.GetPartnerGroup()
				display, st, places = g.GetDisplayName(), g.GetStatus(), append([]string{g.GetRegionCode()}, g.GetServiceAreas()...)
			}
		} else {
			var r *partnerv1.GetPartnerResponse
			if r, err = s.partners.GetPartner(ctx, &partnerv1.GetPartnerRequest{Name: n}, grpc.WaitForReady(true)); err == nil {
				pa := r.GetPartner()
				display, st, places = pa.GetDisplayName(), pa.GetStatus(), append([]string{pa.GetRegionCode()}, pa.GetServiceAreas()...)
			}
		}
		if err == nil && !p.Overlaps(s.tree, places...) {
			err = status.Error(codes.NotFound, n)
		}
		if err != nil {
			return nil, apierr.FromPeer(err, "partner", field, n)
		}
		if st != partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE {
			return nil, apierr.InvalidArgument(field, n+" ("+display+") is "+st.String()+", not active")
		}
		out = append(out, display)
	}
	return out, nil
}

// DeclineCandidate implements demandv1.DemandServiceServer.
func (s *Server) DeclineCandidate(ctx context.Context, req *demandv1.DeclineCandidateRequest) (*demandv1.DeclineCandidateResponse, error) {
	name := req.GetName()
	out, err := s.editProject(ctx, demandv1.DemandService_DeclineCandidate_FullMethodName, name, req.GetEtag(), "decline candidates for",
		func(ctx context.Context, t *resource.Tx, pr *demandv1.Project, v int64) (*demandv1.Project, int64, error) {
			if !domain.Matchable(pr.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("NOT_MATCHABLE", name+" is "+domain.ProjectStatusLabel(pr.GetStatus())+"; candidates are declined while matching")
			}
			now := timestamppb.New(t.Now)
			pr.Declined = slices.DeleteFunc(pr.Declined, func(d *demandv1.DeclinedCandidate) bool { return d.GetPartner() == req.GetPartner() })
			pr.Declined = append(pr.Declined, &demandv1.DeclinedCandidate{Partner: req.GetPartner(), Reason: req.GetReason(), Actor: t.Caller.Subject, DeclineTime: now})
			pr.UpdateTime = now
			version, err := s.store.UpdateProject(ctx, t, pr, v)
			return pr, version, err
		})
	if err != nil {
		return nil, err
	}
	return &demandv1.DeclineCandidateResponse{Project: out}, nil
}
