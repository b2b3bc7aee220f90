package api

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/fit"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
)

const (
	// matchPage is how many candidates each call to the partner service asks for: its largest
	// page.
	matchPage = 200
	// matchCandidatesMax bounds the candidates a match scores. Partner's search knows only the
	// offer and scores without the project's schedule or the partner's record, so many
	// candidates tie there (same category, same community); the schedule, load, record and
	// recency, scored here, decide among them. So a match reads every candidate, page after
	// page, up to this many; only past it does partner's order, the same model's on fewer
	// facts, cut.
	matchCandidatesMax = 2000
	defaultMatchSize   = 10
)

// MatchPartners implements demandv1.DemandServiceServer.
func (s *Server) MatchPartners(ctx context.Context, req *demandv1.MatchPartnersRequest) (*demandv1.MatchPartnersResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.Reads()
	pr, _, err := s.loadProject(ctx, q, p, req.GetName())
	if err != nil {
		return nil, apierr.FromCall(err, req.GetName())
	}
	if !s.canManage(p, pr.GetCommunityCode()) {
		return nil, permissionDenied("match partners for " + pr.GetName())
	}
	if !domain.Matchable(pr.GetStatus()) {
		return nil, apierr.FailedPrecondition("NOT_MATCHABLE", pr.GetName()+" is "+domain.ProjectStatusLabel(pr.GetStatus())+"; partners are matched to approved projects")
	}
	found, err := s.candidates(ctx, pr)
	if err != nil {
		return nil, err
	}
	ruledOut := map[string]bool{}
	for _, d := range pr.GetDeclined() {
		ruledOut[d.GetPartner()] = true
	}
	for _, m := range pr.GetMatchedPartners() {
		ruledOut[m] = true
	}
	type candidate struct {
		name, display string
		offer         fit.Offer
		rec           fit.Record
		last          string
		score         fit.Parts
	}
	cands := make([]candidate, 0, len(found))
	names := make([]string, 0, len(found))
	for _, r := range found {
		c := candidate{}
		switch v := r.GetParty().(type) {
		case *partnerv1.SearchPartnersResult_Partner:
			c.name, c.display = v.Partner.GetName(), v.Partner.GetDisplayName()
			c.offer = fit.Offer{Capabilities: v.Partner.GetCapabilities(), ServiceAreas: v.Partner.GetServiceAreas(), Availability: v.Partner.GetAvailability()}
		case *partnerv1.SearchPartnersResult_Group:
			c.name, c.display = v.Group.GetName(), v.Group.GetDisplayName()
			c.offer = fit.Offer{Capabilities: v.Group.GetCapabilities(), ServiceAreas: v.Group.GetServiceAreas(), Availability: v.Group.GetAvailability()}
		default:
			continue
		}
		if ruledOut[c.name] {
			continue
		}
		cands = append(cands, c)
		names = append(names, c.name)
	}
	records, err := s.store.PartnerRecords(ctx, q, names)
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	place := domain.Place{Community: pr.GetCommunityCode(), Name: s.tree.Name}
	for _, n := range s.tree.Path(pr.GetCommunityCode()) {
		place.Path = append(place.Path, n.Code)
	}
	// The whole model of fit, once per candidate: partner's search scored only the parts it
	// knows, to choose and order the candidates it listed.
	need := domain.Need(pr, place)
	today := domain.Today(s.now())
	ranked := make([]*candidate, len(cands))
	for i := range cands {
		c := &cands[i]
		rec := records[c.name]
		c.rec, c.last = domain.Record(rec.ActiveCommitments, rec.ActivityCount, rec.LastActivityDate, rec.ContractsFulfilled, rec.ContractsBreached), rec.LastActivityDate
		c.score = fit.Score(need, c.offer, &c.rec, today)
		ranked[i] = c
	}
	slices.SortFunc(ranked, func(a, b *candidate) int {
		if a, b := a.score.Total(), b.score.Total(); a != b {
			return b - a
		}
		return strings.Compare(a.name, b.name)
	})
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultMatchSize
	}
	resp := &demandv1.MatchPartnersResponse{}
	// Explained for the page only: the reasons' strings cost more than the points.
	for _, c := range ranked[:min(size, len(ranked))] {
		parts, reasons := fit.Explain(need, c.offer, &c.rec, today)
		resp.Candidates = append(resp.Candidates, &demandv1.MatchCandidate{
			Partner: c.name, DisplayName: c.display, Score: int32(parts.Total()), Breakdown: domain.Breakdown(parts), Reasons: reasons,
			ActiveCommitments: int32(c.rec.ActiveCommitments), ActivityCount: int32(c.rec.ActivityCount),
			LastActivityDate: c.last,
		})
	}
	return resp, nil
}

// candidates asks the partner service for the partners that could serve the project, every
// page of them up to matchCandidatesMax, each once.
func (s *Server) candidates(ctx context.Context, pr *demandv1.Project) ([]*partnerv1.SearchPartnersResult, error) {
	pctx, cancel := partnerCall(ctx)
	defer cancel()
	req := &partnerv1.SearchPartnersRequest{
		Categories: []typev1.Category{pr.GetCategory()},
		Tags:       pr.GetRequiredTags(),
		RegionCode: pr.GetCommunityCode(),
		PageSize:   matchPage,
		// Only what the score reads: no contact or history of hundreds of partners crosses
		// the wire to a service that shows neither.
		ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name", "capabilities", "service_areas", "availability"}},
		// The match explains the page it returns, with every part of the model.
		OmitReasons: true,
	}
	var out []*partnerv1.SearchPartnersResult
	seen := map[string]bool{}
	for len(out) < matchCandidatesMax {
		page, err := s.partners.SearchPartners(pctx, req, grpc.WaitForReady(true))
		if err != nil {
			return nil, partnerErr(err)
		}
		for _, r := range page.GetResults() {
			// Pages are offsets into a ranking that may change between calls: a partner
			// could come twice.
			name := r.GetPartner().GetName() + r.GetGroup().GetName()
			if !seen[name] {
				seen[name] = true
				out = append(out, r)
			}
		}
		if req.PageToken = page.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	return out, nil
}
