package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
)

// demandUpdatable are the fields UpdateDemand may change: corrections to what was recorded.
var demandUpdatable = []string{"category", "title", "description", "grid_code", "address", "location",
	"attachment_urls", "households_affected", "urgency"}

// Messages the resident reads for the steps the service takes by itself.
const (
	msgSubmitted   = "您的诉求已提交，社区将尽快受理并回复。"
	msgSupported   = "又有一位居民附议了这条诉求。"
	msgDuplicate   = "您反映的事项与另一条诉求相同，已合并到该诉求一并办理，您将收到它的进展。"
	msgMerged      = "相同的诉求已合并到这里，附议人数随之增加。"
	msgUnsatisfied = "您对处理结果不满意，诉求已重新打开，社区将再次办理并回复您。"
	msgSatisfied   = "感谢您的评价：满意。"
	msgBasically   = "感谢您的评价：基本满意。社区会继续改进。"
	// The follow-up code's SMS; store.SecretMark becomes the code as it is sent.
	msgFollowUpCode = "您反映的诉求已由社区登记，回执码 " + store.SecretMark + "。登录家园后凭回执码认领，即可查看进展和回复并评价。"
	defaultPageSize = 20
	maxPageSize     = 1000
	similarPool     = 200
	similarResults  = 10
)

// CreateDemand implements demandv1.DemandServiceServer.
func (s *Server) CreateDemand(ctx context.Context, req *demandv1.CreateDemandRequest) (*demandv1.CreateDemandResponse, error) {
	in := req.GetDemand()
	if err := s.checkPlace(in); err != nil {
		return nil, err
	}
	if in.GetMeeting() != "" && !domain.IsMeetingChannel(in.GetChannel()) {
		return nil, apierr.InvalidArgument("demand.meeting", "is only for demands raised at a meeting; channel "+in.GetChannel().String()+" is not one")
	}
	// The follow-up code drawn for the demand the last attempt wrote. A replayed request_id
	// returns the demand its first request created, under another name: its code is read back.
	var issued struct{ name, code string }
	var out *demandv1.Demand
	var err error
	// A code drawn twice (one in a million at a million codes) fails the write; it is drawn
	// again. Three in a row is no chance but a broken random source.
	for range 3 {
		out, err = s.createDemand(ctx, req, &issued.name, &issued.code)
		if !errors.Is(err, errCodeTaken) {
			break
		}
	}
	if errors.Is(err, errCodeTaken) {
		return nil, apierr.Internal(errors.New("create a demand: three follow-up codes drawn were all taken"))
	}
	if err != nil {
		return nil, err
	}
	// The code is for whoever recorded the demand, to print or read out to the resident.
	if p, perr := auth.Caller(ctx); perr == nil && out.GetRecorder() == p.Subject && !out.GetClaimed() {
		code := issued.code
		if out.GetName() != issued.name {
			// A replay: the demand as it is now, which may have been claimed since.
			d, _, err := s.store.GetDemand(ctx, s.db.Reads(), out.GetName())
			if err != nil {
				return nil, apierr.FromCall(err, out.GetName())
			}
			if code = d.GetFollowUpCode(); d.GetClaimed() {
				code = ""
			}
		}
		out.FollowUpCode = domain.FormatFollowUpCode(code)
	}
	return &demandv1.CreateDemandResponse{Demand: out}, nil
}

// errCodeTaken is a create's follow-up code colliding with another demand's.
var errCodeTaken = errors.New("the follow-up code drawn is taken")

// createDemand is one attempt of CreateDemand, which sets *issuedName and *issuedCode to the
// name and follow-up code ("" for none) of the demand the attempt wrote.
func (s *Server) createDemand(ctx context.Context, req *demandv1.CreateDemandRequest, issuedName, issuedCode *string) (*demandv1.Demand, error) {
	in := req.GetDemand()
	return resource.Run(ctx, s.res, resource.Change[*demandv1.Demand]{
		Method:    demandv1.DemandService_CreateDemand_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Refs: func(ctx context.Context, t *resource.Tx, _ *demandv1.Demand) error {
			if in.GetMeeting() == "" {
				return nil
			}
			m, _, err := resource.Ref(ctx, t, "demand.meeting", in.GetMeeting(), s.loadMeeting)
			if err != nil {
				return err
			}
			return checkMeeting(in, m)
		},
		Allow: func(p auth.Principal, _ *demandv1.Demand) error {
			if isResident(p) && in.GetChannel() != demandv1.Channel_CHANNEL_ONLINE {
				return apierr.InvalidArgument("demand.channel", "residents file ONLINE; the other channels are recorded by staff and grid workers")
			}
			if !p.InScope(s.tree, in.GetCommunityCode()) && !(p.HasRole(auth.RoleGridWorker) && s.seesCommunity(p, in.GetCommunityCode())) {
				return apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "community "+in.GetCommunityCode()+" is outside your region scope")
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *demandv1.Demand, _ int64) (*demandv1.Demand, int64, error) {
			now := timestamppb.New(t.Now)
			rec := proto.Clone(in).(*demandv1.Demand)
			rec.Name = aip.NewName("demands")
			rec.Status = demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED
			rec.Project, rec.DuplicateOf, rec.SupporterCount, rec.Rating, rec.Etag = "", "", 0, 0, ""
			rec.FollowUpCode, rec.Claimed = "", false
			rec.Recorder = t.Caller.Subject
			rec.CreateTime, rec.UpdateTime = now, now
			if rec.GetUrgency() == demandv1.Urgency_URGENCY_UNSPECIFIED {
				rec.Urgency = demandv1.Urgency_URGENCY_NORMAL
			}
			raisedBy := ""
			if isResident(t.Caller) {
				raisedBy = t.Caller.Subject
			} else {
				// Recorded for someone else: the resident claims it with this code.
				code, err := domain.NewFollowUpCode(nil)
				if err != nil {
					return nil, 0, err
				}
				rec.FollowUpCode = code
			}
			*issuedName, *issuedCode = rec.GetName(), rec.GetFollowUpCode()
			first := s.entry(t, rec.GetName(), demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE,
				0, demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED, msgSubmitted)
			if err := s.store.InsertDemand(ctx, t, rec, raisedBy, first); err != nil {
				return nil, 0, err
			}
			// A reporter who left a phone gets the code by SMS too, in case the paper is lost;
			// the code is sealed in the outbox and put into the text only as it is sent.
			if code, phone := rec.GetFollowUpCode(), rec.GetReporter().GetPhone(); code != "" && phone != "" {
				if _, err := s.store.EnqueueNotification(ctx, t, store.Outgoing{
					Demand: rec.GetName(), Kind: demandv1.RecipientKind_RECIPIENT_KIND_REPORTER, Phone: phone,
					Message: msgFollowUpCode, Secret: domain.FormatFollowUpCode(code), Time: t.Now,
				}); err != nil {
					return nil, 0, err
				}
			}
			if err := t.Emit(ctx, rec.GetName(), rec.GetCommunityCode(), &demandv1.DemandSubmitted{Demand: forFeed(rec)}); err != nil {
				return nil, 0, err
			}
			created := proto.Clone(rec).(*demandv1.Demand)
			// Not in the response the request_id keeps: CreateDemand adds it for the recorder.
			created.FollowUpCode = ""
			return created, 1, nil
		},
		View: s.viewDemand,
		// The only unique key a new demand can collide with is its follow-up code's.
		Conflict: func() error { return errCodeTaken },
	})
}

// checkPlace checks the demand's community and grid against the region tree.
func (s *Server) checkPlace(d *demandv1.Demand) error {
	if err := s.checkCommunity("demand.community_code", d.GetCommunityCode()); err != nil {
		return err
	}
	if d.GetGridCode() != "" {
		return s.checkGrid("demand.grid_code", d.GetGridCode(), d.GetCommunityCode())
	}
	return nil
}

// checkMeeting checks that the demand d was raised at m, resolved in the caller's scope: m
// was held in d's community, and d's channel is m's kind of meeting.
func checkMeeting(d *demandv1.Demand, m *demandv1.Meeting) error {
	if m.GetCommunityCode() != d.GetCommunityCode() {
		return apierr.InvalidArgument("demand.meeting", m.GetName()+" was held in another community ("+m.GetCommunityCode()+")")
	}
	if want := domain.MeetingChannel(m.GetKind()); want != d.GetChannel() {
		return apierr.InvalidArgument("demand.channel", "must be "+want.String()+" for a demand raised at "+m.GetName())
	}
	return nil
}

// forFeed is the copy of a demand other services receive: without the reporter, the address
// or the exact point, which they have no need of and must not accumulate.
func forFeed(d *demandv1.Demand) *demandv1.Demand {
	c := proto.Clone(d).(*demandv1.Demand)
	c.Reporter, c.Address, c.Location, c.Etag, c.FollowUpCode = nil, "", nil, "", ""
	return c
}

// entry builds a timeline entry of demand, written by t's caller at t's time.
func (s *Server) entry(t *resource.Tx, demand string, kind demandv1.TimelineEntryKind, from, to demandv1.DemandStatus, msg string) *demandv1.TimelineEntry {
	role := ""
	if len(t.Caller.Roles) > 0 {
		role = string(t.Caller.Roles[0])
	}
	return &demandv1.TimelineEntry{
		Name: demand + "/timelineEntries/" + aip.NewID(), Kind: kind, FromStatus: from, ToStatus: to,
		Message: msg, ActorRole: role, CreateTime: timestamppb.New(t.Now),
	}
}

// viewDemand sets the etag and masks the reporter unless the caller needs it, auditing an
// unmasked read. The follow-up code is never in a view: CreateDemand and GetDemand add it for
// its recorder.
func (s *Server) viewDemand(ctx context.Context, p auth.Principal, d *demandv1.Demand, version int64) {
	d.Etag = aip.Etag(d.GetName(), version)
	d.FollowUpCode = ""
	if s.readsReporter(p, d) || s.claimantReads(ctx, p, d) {
		if d.GetReporter().GetName() != "" || d.GetReporter().GetPhone() != "" {
			auth.AuditRead(ctx, s.log, p, "reporter", auth.Shown{Name: d.GetName(), Region: d.GetCommunityCode()})
		}
		return
	}
	maskDemand(d)
}

// loadDemand reads a demand the caller may see; one they may not does not exist for them
// (sqlstore.ErrNotFound). It is the demand service's resource.Loader of demands.
func (s *Server) loadDemand(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*demandv1.Demand, int64, error) {
	d, v, err := s.store.GetDemand(ctx, q, name)
	if err != nil {
		return nil, 0, err
	}
	ok, err := s.seesDemand(ctx, q, p, d)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, sqlstore.ErrNotFound
	}
	return d, v, nil
}

// lockedDemand is loadDemand holding the demand's row for the rest of the transaction (see
// store.LockDemand), for changes that come without the caller's etag.
func (s *Server) lockedDemand(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*demandv1.Demand, int64, error) {
	if err := s.store.LockDemand(ctx, q, name); err != nil {
		return nil, 0, err
	}
	return s.loadDemand(ctx, q, p, name)
}

// seesDemand: residents see what they raised (filed online or claimed, wherever it is) and what
// they support; everyone else the demands of the communities they see.
func (s *Server) seesDemand(ctx context.Context, q sqlstore.Querier, p auth.Principal, d *demandv1.Demand) (bool, error) {
	if !isResident(p) {
		return s.seesCommunity(p, d.GetCommunityCode()), nil
	}
	raised, err := s.raisedByCaller(ctx, q, p, d)
	if err != nil || raised {
		return raised, err
	}
	return s.store.IsSupporter(ctx, q, d.GetName(), p.Subject)
}

// GetDemand implements demandv1.DemandServiceServer.
func (s *Server) GetDemand(ctx context.Context, req *demandv1.GetDemandRequest) (*demandv1.GetDemandResponse, error) {
	var (
		caller auth.Principal
		code   string
	)
	load := func(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*demandv1.Demand, int64, error) {
		d, v, err := s.loadDemand(ctx, q, p, name)
		caller, code = p, d.GetFollowUpCode()
		return d, v, err
	}
	d, err := resource.Get(ctx, s.res, req.GetName(), load, s.viewDemand)
	if err != nil {
		return nil, err
	}
	// Its recorder reads the code again to print it, until the resident has claimed it.
	if code != "" && d.GetRecorder() == caller.Subject && !d.GetClaimed() {
		d.FollowUpCode = domain.FormatFollowUpCode(code)
	}
	return &demandv1.GetDemandResponse{Demand: d}, nil
}

// ListDemands implements demandv1.DemandServiceServer.
func (s *Server) ListDemands(ctx context.Context, req *demandv1.ListDemandsRequest) (*demandv1.ListDemandsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	params := store.DemandListParams{
		Filter: req.GetFilter(), OrderBy: req.GetOrderBy(), PageToken: req.GetPageToken(),
		PageSize: aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize),
		Own:      own(p),
	}
	if params.Own == nil {
		params.Scope = s.communities(p)
	}
	listed, next, err := s.store.ListDemands(ctx, s.db.Reads(), params)
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	resp := &demandv1.ListDemandsResponse{NextPageToken: next, Demands: make([]*demandv1.Demand, 0, len(listed))}
	// A resident reads the reporter of what they claimed, as of what they filed: which of the
	// claimed demands listed are theirs rather than supported.
	var claimed []string
	for _, l := range listed {
		if isResident(p) && l.Rec.GetClaimed() && l.Rec.GetRecorder() != p.Subject {
			claimed = append(claimed, l.Rec.GetName())
		}
	}
	raised, err := s.store.RaisedAmong(ctx, s.db.Reads(), p.Subject, claimed)
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	var shown []auth.Shown
	for _, l := range listed {
		d := l.Rec
		d.Etag = aip.Etag(d.GetName(), l.Version)
		d.FollowUpCode = ""
		if s.readsReporter(p, d) || raised[d.GetName()] {
			shown = append(shown, auth.Shown{Name: d.GetName(), Region: d.GetCommunityCode()})
		} else {
			maskDemand(d)
		}
		resp.Demands = append(resp.Demands, d)
	}
	auth.AuditRead(ctx, s.log, p, "reporter", shown...)
	return resp, nil
}

// UpdateDemand implements demandv1.DemandServiceServer.
func (s *Server) UpdateDemand(ctx context.Context, req *demandv1.UpdateDemandRequest) (*demandv1.UpdateDemandResponse, error) {
	in := req.GetDemand()
	name := in.GetName()
	if !aip.ValidName(name, "demands") {
		return nil, apierr.InvalidArgument("demand.name", "must be demands/{id}")
	}
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Demand]{
		Method: demandv1.DemandService_UpdateDemand_FullMethodName,
		Name:   name, Etag: in.GetEtag(), Load: s.loadDemand,
		Allow: func(p auth.Principal, cur *demandv1.Demand) error {
			return s.allowHandle(p, cur.GetCommunityCode(), "change "+name)
		},
		Apply: func(ctx context.Context, t *resource.Tx, cur *demandv1.Demand, v int64) (*demandv1.Demand, int64, error) {
			if !domain.Open(cur.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("DEMAND_CLOSED", name+" is "+domain.StatusLabel(cur.GetStatus())+"; only open demands are corrected")
			}
			next, err := resource.Merge("demand", cur, in, req.GetUpdateMask(), demandUpdatable)
			if err != nil {
				return nil, 0, err
			}
			if err := s.checkPlace(next); err != nil {
				return nil, 0, err
			}
			next.UpdateTime = timestamppb.New(t.Now)
			version, err := s.store.UpdateDemand(ctx, t, next, v)
			return next, version, err
		},
		View: s.viewDemand,
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.UpdateDemandResponse{Demand: out}, nil
}

// CountDemands implements demandv1.DemandServiceServer.
func (s *Server) CountDemands(ctx context.Context, req *demandv1.CountDemandsRequest) (*demandv1.CountDemandsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	filter := req.GetFilter()
	if r := req.GetRegionCode(); r != "" {
		if err := s.tree.Validate(r); err != nil {
			return nil, apierr.InvalidArgument("region_code", err.Error())
		}
		if !s.seesCommunity(p, r) {
			return nil, apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "region "+r+" is outside your region scope")
		}
		// The filter language is conjunctions only: appending one more keeps its meaning.
		cond := fmt.Sprintf("region_code = %q", r)
		if strings.TrimSpace(filter) == "" {
			filter = cond
		} else {
			filter += " AND " + cond
		}
	}
	c, err := s.store.CountDemands(ctx, s.db.Reads(), filter, s.communities(p), own(p))
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	return &demandv1.CountDemandsResponse{
		Total:      int32(c.Total),
		ByCategory: counts(c.ByCategory, typev1.Category(0).Descriptor()),
		ByStatus:   counts(c.ByStatus, demandv1.DemandStatus(0).Descriptor()),
		ByChannel:  counts(c.ByChannel, demandv1.Channel(0).Descriptor()),
		ByKind:     counts(c.ByKind, demandv1.DemandKind(0).Descriptor()),
	}, nil
}

// counts lists the counts of one dimension by enum value name, largest first.
func counts(m map[int32]int, enum protoreflect.EnumDescriptor) []*demandv1.Count {
	out := make([]*demandv1.Count, 0, len(m))
	for n, c := range m {
		name := fmt.Sprint(n)
		if v := enum.Values().ByNumber(protoreflect.EnumNumber(n)); v != nil {
			name = string(v.Name())
		}
		out = append(out, &demandv1.Count{Value: name, Count: int32(c)})
	}
	slices.SortFunc(out, func(a, b *demandv1.Count) int {
		if a.GetCount() != b.GetCount() {
			return int(b.GetCount() - a.GetCount())
		}
		return strings.Compare(a.GetValue(), b.GetValue())
	})
	return out
}

// FindSimilarDemands implements demandv1.DemandServiceServer.
func (s *Server) FindSimilarDemands(ctx context.Context, req *demandv1.FindSimilarDemandsRequest) (*demandv1.FindSimilarDemandsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkCommunity("community_code", req.GetCommunityCode()); err != nil {
		return nil, err
	}
	if !s.seesCommunity(p, req.GetCommunityCode()) {
		return nil, apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "community "+req.GetCommunityCode()+" is outside your region scope")
	}
	pool, err := s.store.SimilarCandidates(ctx, s.db.Reads(), req.GetCommunityCode(), int32(req.GetCategory()), similarPool)
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	text := req.GetTitle() + " " + req.GetDescription()
	resp := &demandv1.FindSimilarDemandsResponse{}
	for _, d := range pool {
		// The title says what it is about; the description adds detail that may differ.
		sim := max(domain.Similarity(req.GetTitle(), d.GetTitle()), domain.Similarity(text, d.GetTitle()+" "+d.GetDescription()))
		if sim < domain.SimilarThreshold {
			continue
		}
		resp.Demands = append(resp.Demands, &demandv1.SimilarDemand{
			Name: d.GetName(), Title: d.GetTitle(), Status: d.GetStatus(), SupporterCount: d.GetSupporterCount(), Similarity: int32(sim),
		})
	}
	slices.SortStableFunc(resp.Demands, func(a, b *demandv1.SimilarDemand) int { return int(b.GetSimilarity() - a.GetSimilarity()) })
	if len(resp.Demands) > similarResults {
		resp.Demands = resp.Demands[:similarResults]
	}
	return resp, nil
}

// SupportDemand implements demandv1.DemandServiceServer.
func (s *Server) SupportDemand(ctx context.Context, req *demandv1.SupportDemandRequest) (*demandv1.SupportDemandResponse, error) {
	name := req.GetName()
	var raiser string
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Demand]{
		Method: demandv1.DemandService_SupportDemand_FullMethodName,
		Name:   name,
		// A resident supports the demands of the community they live in, found through
		// FindSimilarDemands; others' demands stay invisible to them otherwise.
		Load: func(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*demandv1.Demand, int64, error) {
			if err := s.store.LockDemand(ctx, q, name); err != nil {
				return nil, 0, err
			}
			d, v, err := s.store.GetDemand(ctx, q, name)
			if err == nil && !p.InScope(s.tree, d.GetCommunityCode()) {
				return nil, 0, sqlstore.ErrNotFound
			}
			return d, v, err
		},
		Refs: func(ctx context.Context, t *resource.Tx, _ *demandv1.Demand) error {
			var err error
			raiser, err = s.store.DemandRaisedBy(ctx, t, name)
			return err
		},
		Allow: func(p auth.Principal, d *demandv1.Demand) error {
			if d.GetRecorder() == p.Subject || raiser == p.Subject {
				return apierr.FailedPrecondition("OWN_DEMAND", "you raised "+name+" yourself")
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, d *demandv1.Demand, v int64) (*demandv1.Demand, int64, error) {
			if !domain.Open(d.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("DEMAND_CLOSED", name+" is "+domain.StatusLabel(d.GetStatus())+" and takes no more support")
			}
			added, err := s.store.AddSupporter(ctx, t, name, t.Caller.Subject, req.GetNotify())
			if err != nil || !added {
				return d, v, err
			}
			d.SupporterCount++
			d.UpdateTime = timestamppb.New(t.Now)
			version, err := s.store.UpdateDemand(ctx, t, d, v)
			if err != nil {
				return nil, 0, err
			}
			return d, version, s.store.AppendTimeline(ctx, t, s.entry(t, name, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_SUPPORT, 0, 0, msgSupported))
		},
		View: s.viewDemand,
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.SupportDemandResponse{Demand: out}, nil
}

// MarkDuplicate implements demandv1.DemandServiceServer.
func (s *Server) MarkDuplicate(ctx context.Context, req *demandv1.MarkDuplicateRequest) (*demandv1.MarkDuplicateResponse, error) {
	name, target := req.GetName(), req.GetDuplicateOf()
	if name == target {
		return nil, apierr.InvalidArgument("duplicate_of", "points to the demand itself")
	}
	reply := req.GetReply()
	if reply == "" {
		reply = msgDuplicate
	}
	var other *demandv1.Demand
	var otherVersion int64
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Demand]{
		Method: demandv1.DemandService_MarkDuplicate_FullMethodName,
		Name:   name, Etag: req.GetEtag(), Load: s.loadDemand,
		Refs: func(ctx context.Context, t *resource.Tx, d *demandv1.Demand) error {
			var err error
			if other, otherVersion, err = resource.Ref(ctx, t, "duplicate_of", target, s.lockedDemand); err != nil {
				return err
			}
			if other.GetCommunityCode() != d.GetCommunityCode() {
				return apierr.InvalidArgument("duplicate_of", target+" is in another community ("+s.tree.Name(other.GetCommunityCode())+"); duplicates are merged within one community")
			}
			return nil
		},
		Allow: func(p auth.Principal, d *demandv1.Demand) error {
			return s.allowManage(p, d.GetCommunityCode(), "mark "+name+" a duplicate")
		},
		Apply: func(ctx context.Context, t *resource.Tx, d *demandv1.Demand, v int64) (*demandv1.Demand, int64, error) {
			if !domain.Duplicable(d.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("INVALID_TRANSITION", name+" is "+domain.StatusLabel(d.GetStatus())+"; only submitted or accepted demands are merged")
			}
			if !domain.Open(other.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("TARGET_CLOSED", target+" is "+domain.StatusLabel(other.GetStatus())+"; merge into an open demand")
			}
			raiser, err := s.store.DemandRaisedBy(ctx, t, name)
			if err != nil {
				return nil, 0, err
			}
			var extra []string
			if raiser != "" {
				extra = append(extra, raiser)
			}
			n, err := s.store.MoveSupporters(ctx, t, name, target, extra)
			if err != nil {
				return nil, 0, err
			}
			now := timestamppb.New(t.Now)
			other.SupporterCount, other.UpdateTime = int32(n), now
			if _, err := s.store.UpdateDemand(ctx, t, other, otherVersion); err != nil {
				return nil, 0, err
			}
			d.DuplicateOf = target
			version, err := s.moveDemand(ctx, t, d, v, demandv1.DemandStatus_DEMAND_STATUS_DUPLICATE, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE, reply)
			if err != nil {
				return nil, 0, err
			}
			return d, version, s.store.AppendTimeline(ctx, t, s.entry(t, target, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_SUPPORT, 0, 0, msgMerged))
		},
		View: s.viewDemand,
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.MarkDuplicateResponse{Demand: out}, nil
}

// statusChanged puts a demand's move on the feed.
func statusChanged(ctx context.Context, t *resource.Tx, d *demandv1.Demand, from demandv1.DemandStatus) error {
	return t.Emit(ctx, d.GetName(), d.GetCommunityCode(), &demandv1.DemandStatusChanged{
		Name: d.GetName(), CommunityCode: d.GetCommunityCode(), Kind: d.GetKind(), FromStatus: from, ToStatus: d.GetStatus(),
	})
}

// moveDemand sets a loaded demand's status, stores it, and records the move on its timeline
// (with msg) and on the feed. It returns the new version.
func (s *Server) moveDemand(ctx context.Context, t *resource.Tx, d *demandv1.Demand, version int64,
	to demandv1.DemandStatus, kind demandv1.TimelineEntryKind, msg string) (int64, error) {
	return s.moveDemandWith(ctx, t, d, version, s.entry(t, d.GetName(), kind, d.GetStatus(), to, msg))
}

// moveDemandWith is moveDemand recording the timeline entry e, which says where the demand
// goes (its to_status). A new outcome clears the rating of the last one: a rating belongs to
// one resolution, and the new one is asked for anew; the old stays on the timeline.
func (s *Server) moveDemandWith(ctx context.Context, t *resource.Tx, d *demandv1.Demand, version int64, e *demandv1.TimelineEntry) (int64, error) {
	from, to := d.GetStatus(), e.GetToStatus()
	d.Status, d.UpdateTime = to, timestamppb.New(t.Now)
	if domain.StartsResolution(to) {
		d.Rating = demandv1.Rating_RATING_UNSPECIFIED
	}
	v, err := s.store.UpdateDemand(ctx, t, d, version)
	if err != nil {
		return 0, err
	}
	if err := s.store.AppendTimeline(ctx, t, e); err != nil {
		return 0, err
	}
	return v, statusChanged(ctx, t, d, from)
}

// ChangeDemandStatus implements demandv1.DemandServiceServer.
func (s *Server) ChangeDemandStatus(ctx context.Context, req *demandv1.ChangeDemandStatusRequest) (*demandv1.ChangeDemandStatusResponse, error) {
	name, to := req.GetName(), req.GetStatus()
	if domain.ReasonRequired(to) && strings.TrimSpace(req.GetReason()) == "" {
		return nil, apierr.InvalidArgument("reason", "is required when the status becomes "+to.String())
	}
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Demand]{
		Method: demandv1.DemandService_ChangeDemandStatus_FullMethodName,
		Name:   name, Etag: req.GetEtag(), Load: s.loadDemand,
		Allow: func(p auth.Principal, d *demandv1.Demand) error {
			from := d.GetStatus()
			if !domain.DemandMoveAllowed(d.GetKind(), from, to) {
				return apierr.FailedPrecondition("INVALID_TRANSITION", "cannot move "+name+" from "+from.String()+" to "+to.String())
			}
			if !s.canHandle(p, d.GetCommunityCode()) || !p.HasRole(domain.DemandMovers(from, to)...) {
				return permissionDenied("move " + name + " from " + from.String() + " to " + to.String())
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, d *demandv1.Demand, v int64) (*demandv1.Demand, int64, error) {
			msg := req.GetReply()
			if r := strings.TrimSpace(req.GetReason()); r != "" {
				msg += "（原因：" + r + "）"
			}
			version, err := s.moveDemand(ctx, t, d, v, to, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE, msg)
			return d, version, err
		},
		View: s.viewDemand,
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.ChangeDemandStatusResponse{Demand: out}, nil
}

// ReplyToDemand implements demandv1.DemandServiceServer.
func (s *Server) ReplyToDemand(ctx context.Context, req *demandv1.ReplyToDemandRequest) (*demandv1.ReplyToDemandResponse, error) {
	name := req.GetName()
	var e *demandv1.TimelineEntry
	_, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Demand]{
		Method: demandv1.DemandService_ReplyToDemand_FullMethodName,
		Name:   name, Load: s.loadDemand,
		Allow: func(p auth.Principal, d *demandv1.Demand) error {
			// Departments answer the problems escalated to them, in their scope.
			if !s.canHandle(p, d.GetCommunityCode()) && !(p.HasRole(auth.RoleDepartment) && p.InScope(s.tree, d.GetCommunityCode())) {
				return permissionDenied("reply to " + name)
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, d *demandv1.Demand, v int64) (*demandv1.Demand, int64, error) {
			e = s.entry(t, name, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY, d.GetStatus(), d.GetStatus(), req.GetMessage())
			return d, v, s.store.AppendTimeline(ctx, t, e)
		},
		View: func(context.Context, auth.Principal, *demandv1.Demand, int64) {},
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.ReplyToDemandResponse{Entry: e}, nil
}

// ratingMessages are what the resident reads on the timeline for each rating.
var ratingMessages = map[demandv1.Rating]string{
	demandv1.Rating_RATING_SATISFIED:           msgSatisfied,
	demandv1.Rating_RATING_BASICALLY_SATISFIED: msgBasically,
	demandv1.Rating_RATING_UNSATISFIED:         msgUnsatisfied,
}

// ratingLabels name the ratings as residents read them.
var ratingLabels = map[demandv1.Rating]string{
	demandv1.Rating_RATING_SATISFIED:           "满意",
	demandv1.Rating_RATING_BASICALLY_SATISFIED: "基本满意",
	demandv1.Rating_RATING_UNSATISFIED:         "不满意",
}

// RateDemand implements demandv1.DemandServiceServer.
func (s *Server) RateDemand(ctx context.Context, req *demandv1.RateDemandRequest) (*demandv1.RateDemandResponse, error) {
	name := req.GetName()
	var raiser string
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Demand]{
		Method: demandv1.DemandService_RateDemand_FullMethodName,
		Name:   name, Load: s.loadDemand,
		Refs: func(ctx context.Context, t *resource.Tx, _ *demandv1.Demand) error {
			var err error
			raiser, err = s.store.DemandRaisedBy(ctx, t, name)
			return err
		},
		Allow: func(p auth.Principal, _ *demandv1.Demand) error {
			if raiser == "" || raiser != p.Subject {
				return permissionDenied("rate " + name + ": only the resident who raised it (filed it or claimed it) rates it")
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, d *demandv1.Demand, v int64) (*demandv1.Demand, int64, error) {
			if !domain.Rateable(d.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("NOT_RATEABLE", name+" is "+domain.StatusLabel(d.GetStatus())+"; it is rated once resolved or closed")
			}
			// One rating per outcome. An UNSATISFIED rating on a demand with an outcome is an
			// earlier one's (it reopened the demand; builds before ratings per resolution kept
			// it when the demand was resolved again): this outcome is not rated yet.
			if r := d.GetRating(); r != demandv1.Rating_RATING_UNSPECIFIED && !domain.Reopens(r) {
				return nil, 0, apierr.FailedPrecondition("ALREADY_RATED", name+" was rated "+ratingLabels[r]+" for this outcome; a rating is given once per outcome")
			}
			rating := req.GetRating()
			d.Rating = rating
			msg := ratingMessages[rating]
			if c := strings.TrimSpace(req.GetComment()); c != "" {
				msg += "居民留言：" + c
			}
			to := d.GetStatus()
			if domain.Reopens(rating) {
				to = demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED
			}
			e := s.entry(t, name, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_RATING, d.GetStatus(), to, msg)
			e.Rating = rating
			// The rating goes on the feed (without the comment) for the satisfaction figures.
			if err := t.Emit(ctx, name, d.GetCommunityCode(), &demandv1.DemandRated{
				Name: name, CommunityCode: d.GetCommunityCode(), Kind: d.GetKind(), Rating: rating,
			}); err != nil {
				return nil, 0, err
			}
			if to != d.GetStatus() {
				version, err := s.moveDemandWith(ctx, t, d, v, e)
				return d, version, err
			}
			d.UpdateTime = timestamppb.New(t.Now)
			version, err := s.store.UpdateDemand(ctx, t, d, v)
			if err != nil {
				return nil, 0, err
			}
			return d, version, s.store.AppendTimeline(ctx, t, e)
		},
		View: s.viewDemand,
	})
	if err != nil {
		return nil, err
	}
	return &demandv1.RateDemandResponse{Demand: out}, nil
}

// ListTimelineEntries implements demandv1.DemandServiceServer.
func (s *Server) ListTimelineEntries(ctx context.Context, req *demandv1.ListTimelineEntriesRequest) (*demandv1.ListTimelineEntriesResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.Reads()
	if _, _, err := s.loadDemand(ctx, q, p, req.GetParent()); err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	entries, next, err := s.store.ListTimeline(ctx, q, req.GetParent(), aip.PageSize(req.GetPageSize(), 50, maxPageSize), req.GetPageToken())
	if err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	return &demandv1.ListTimelineEntriesResponse{Entries: entries, NextPageToken: next}, nil
}
