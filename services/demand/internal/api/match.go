package api

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	// page, names and scores only.
	matchPage = 1000
	// matchCandidatesMax bounds the candidates a match ranks. Partner's search scores the offer
	// (with the project's schedule) but not the partner's record, so many candidates tie there
	// (same category, same community); the load, track record and recency, added here, decide
	// among them. So a match reads every candidate's name and score, page after page, up to
	// this many; only past it does partner's order, the same model's on fewer facts, cut.
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
	place := domain.Place{Community: pr.GetCommunityCode(), Name: s.tree.Name}
	for _, n := range s.tree.Path(pr.GetCommunityCode()) {
		place.Path = append(place.Path, n.Code)
	}
	need := domain.Need(pr, place)
	today := domain.Today(s.now())
	// Partner's search scores the offer's parts, with the project's schedule; the record's
	// parts are added here (fit.RecordPoints): the whole model, once per candidate, and only
	// names and scores cross for the hundreds of candidates.
	found, err := s.candidates(ctx, pr, nil)
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
		name  string
		score int
	}
	cands := make([]candidate, 0, len(found))
	names := make([]string, 0, len(found))
	for _, r := range found {
		name := partyName(r)
		if name == "" || ruledOut[name] {
			continue
		}
		cands = append(cands, candidate{name: name, score: int(r.GetScore())})
		names = append(names, name)
	}
	records, err := s.store.PartnerRecords(ctx, q, names)
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	record := func(name string) fit.Record {
		rec := records[name]
		return domain.Record(rec.ActiveCommitments, rec.ActivityCount, rec.LastActivityDate, rec.ContractsFulfilled, rec.ContractsBreached)
	}
	for i := range cands {
		cands[i].score += fit.RecordPoints(record(cands[i].name), today)
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.score != b.score {
			return b.score - a.score
		}
		return strings.Compare(a.name, b.name)
	})
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultMatchSize
	}
	best := cands[:min(size, len(cands))]
	if len(best) == 0 {
		return &demandv1.MatchPartnersResponse{}, nil
	}
	// The page's offers, for its reasons: one more search, of these candidates only.
	top := make([]string, len(best))
	for i, c := range best {
		top[i] = c.name
	}
	offers, err := s.candidates(ctx, pr, top)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*partnerv1.SearchPartnersResult, len(offers))
	for _, r := range offers {
		byName[partyName(r)] = r
	}
	resp := &demandv1.MatchPartnersResponse{}
	// Explained for the page only: the reasons' strings cost more than the points.
	for _, c := range best {
		r, ok := byName[c.name]
		if !ok {
			continue // gone from the search since the first read (withdrawn, moved out of scope)
		}
		display, offer := offerOf(r)
		rec := record(c.name)
		parts, reasons := fit.Explain(need, offer, &rec, today)
		resp.Candidates = append(resp.Candidates, &demandv1.MatchCandidate{
			Partner: c.name, DisplayName: display, Score: int32(parts.Total()), Breakdown: domain.Breakdown(parts), Reasons: reasons,
			ActiveCommitments: int32(rec.ActiveCommitments), ActivityCount: int32(rec.ActivityCount),
			LastActivityDate: records[c.name].LastActivityDate,
		})
	}
	// An offer changed between the two reads re-scores its candidate: the page stays in order
	// of the scores it shows.
	slices.SortStableFunc(resp.Candidates, func(a, b *demandv1.MatchCandidate) int { return int(b.GetScore() - a.GetScore()) })
	return resp, nil
}

// partyName is the name of a search result's partner or group: the result's, or, from a
// partner service of the previous release, which set only the party's, the party's.
func partyName(r *partnerv1.SearchPartnersResult) string {
	if n := r.GetName(); n != "" {
		return n
	}
	return r.GetPartner().GetName() + r.GetGroup().GetName()
}

// offerOf is a search result's display name and offer.
func offerOf(r *partnerv1.SearchPartnersResult) (string, fit.Offer) {
	if g := r.GetGroup(); g != nil {
		return g.GetDisplayName(), fit.OfferOf(g)
	}
	return r.GetPartner().GetDisplayName(), fit.OfferOf(r.GetPartner())
}

// candidates asks the partner service for the partners that could serve the project, scored
// on their offers with the project's schedule, every page of them up to matchCandidatesMax,
// each once: their names and scores only. With names, only those candidates, with the offers
// a match explains (one page: a match shows at most 50).
func (s *Server) candidates(ctx context.Context, pr *demandv1.Project, names []string) ([]*partnerv1.SearchPartnersResult, error) {
	pctx, cancel := partnerCall(ctx)
	defer cancel()
	req := &partnerv1.SearchPartnersRequest{
		Categories: []typev1.Category{pr.GetCategory()},
		Tags:       pr.GetRequiredTags(),
		RegionCode: pr.GetCommunityCode(),
		Schedule:   pr.GetSchedule(),
		PageSize:   matchPage,
		// Only what the match reads, names and scores: no record of hundreds of partners
		// is copied, sent or decoded.
		View: partnerv1.PartyView_PARTY_VIEW_NAME,
		// The match explains the page it returns, with every part of the model.
		OmitReasons: true,
		Names:       names,
	}
	if len(names) > 0 {
		req.View = partnerv1.PartyView_PARTY_VIEW_UNSPECIFIED
		req.ReadMask = &fieldmaskpb.FieldMask{Paths: []string{"display_name", "capabilities", "service_areas", "availability"}}
	}
	var out []*partnerv1.SearchPartnersResult
	seen := map[string]bool{}
	for len(out) < matchCandidatesMax {
		page, err := s.partners.SearchPartners(pctx, req, grpc.WaitForReady(true))
		if err != nil && req.GetView() == partnerv1.PartyView_PARTY_VIEW_NAME && status.Code(err) == codes.InvalidArgument {
			// A partner service of the previous release, still serving during a rolling
			// upgrade, refuses the view it does not know: ask as it understands, the names
			// by read mask. To go once no partner replica is older than the view.
			req.View, req.ReadMask = partnerv1.PartyView_PARTY_VIEW_UNSPECIFIED, &fieldmaskpb.FieldMask{Paths: []string{"name"}}
			page, err = s.partners.SearchPartners(pctx, req, grpc.WaitForReady(true))
		}
		if err != nil {
			return nil, apierr.FromPeer(err, "partner", "", "")
		}
		for _, r := range page.GetResults() {
			// Pages are offsets into a ranking that may change between calls: a partner
			// could come twice.
			if name := partyName(r); !seen[name] {
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
