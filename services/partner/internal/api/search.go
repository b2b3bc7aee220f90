package api

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/fit"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

// SearchPartners implements partnerv1.PartnerServiceServer: the indexes narrow the candidates,
// then each is scored for fit and the ranked list is paged.
func (s *Server) SearchPartners(ctx context.Context, req *partnerv1.SearchPartnersRequest) (*partnerv1.SearchPartnersResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetRegionCode() != "" {
		if err := s.tree.Validate(req.GetRegionCode()); err != nil {
			return nil, apierr.InvalidArgument("region_code", err.Error())
		}
	}
	// The token is bound to everything but the paging fields.
	shape := proto.Clone(req).(*partnerv1.SearchPartnersRequest)
	shape.PageSize, shape.PageToken = 0, ""
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(shape)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	query := aip.Fingerprint("search", string(b))
	skip, err := aip.DecodeOffsetToken(req.GetPageToken(), query)
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}

	params := store.SearchParams{
		Statuses:   req.GetStatuses(),
		Categories: req.GetCategories(),
		Weekday:    req.GetWindow().GetWeekday(),
		Names:      req.GetNames(),
		Scope:      s.scope(p),
	}
	if len(params.Statuses) == 0 {
		params.Statuses = []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE}
	}
	for _, k := range req.GetKinds() {
		if k == partnerv1.PartyKind_PARTY_KIND_GROUP {
			params.Kinds = append(params.Kinds, store.KindGroup)
		} else {
			params.Kinds = append(params.Kinds, store.KindPartner)
		}
	}
	var ancestors []string
	if r := req.GetRegionCode(); r != "" {
		// Partners serving the place, an area that encloses it, or a part of it.
		ancestors = s.ancestors(r)
		params.Areas = append(params.Areas, ancestors...)
		for _, n := range s.tree.Subtree(r) {
			params.Areas = append(params.Areas, n.Code)
		}
	}
	// The model of fit on what this service knows: the offer. A search has no partner record
	// (load, track record, recency); a match adds it, with the same model, in the demand service.
	need := fit.Need{
		Categories: req.GetCategories(),
		Tags:       req.GetTags(),
		Place:      fit.Place{Code: req.GetRegionCode(), Path: append(ancestors, req.GetRegionCode()), Name: s.tree.Name},
	}
	if w := req.GetWindow(); w != nil {
		need.Schedule = []*typev1.WeeklyWindow{w}
	}
	if sched := req.GetSchedule(); len(sched) > 0 {
		need.Schedule = sched
	}
	// A later page continues the ranking its first page was cut from, while it is kept: the
	// pages do not overlap or skip when partners change between calls, and a match reading
	// every page ranks its candidates once, not once a page. The key holds the caller's
	// scope: a token replayed by another caller ranks afresh, in that caller's scope.
	key := query + "\x00" + strings.Join(p.Scope, ",")
	order, kept := []ranked(nil), false
	if skip > 0 {
		order, kept = s.rankings.Get(key)
	}
	if !kept {
		candidates, err := s.store.SearchCandidates(ctx, s.db.Reads(), params)
		if err != nil {
			return nil, apierr.FromCall(err, "")
		}
		order = make([]ranked, 0, len(candidates))
		for _, c := range candidates {
			// The index matched the weekday; the hours are checked here.
			if w := req.GetWindow(); w != nil && !fit.Available(w, c.Party.GetAvailability()) {
				continue
			}
			order = append(order, ranked{c: c, score: fit.Score(need, fit.OfferOf(c.Party), nil, time.Time{}).Total()})
		}
		// Best first; names are unique, so the order is total.
		slices.SortFunc(order, func(a, b ranked) int {
			if a.score != b.score {
				return b.score - a.score
			}
			return strings.Compare(a.c.Party.GetName(), b.c.Party.GetName())
		})
	}

	size := aip.PageSize(req.GetPageSize(), 20, 1000)
	resp := &partnerv1.SearchPartnersResponse{TotalSize: int32(len(order))}
	if skip < len(order) {
		end := min(skip+size, len(order))
		page := s.searchPage(ctx, p, req, order[skip:end])
		for i, r := range order[skip:end] {
			res := &partnerv1.SearchPartnersResult{Name: r.c.Party.GetName(), Score: int32(r.score)}
			if !req.GetOmitReasons() {
				// Explained for the page only: the reasons' strings cost more than the scores.
				_, res.Reasons = fit.Explain(need, fit.OfferOf(r.c.Party), nil, time.Time{})
			}
			if page != nil {
				switch v := page[i].Party.(type) {
				case *partnerv1.Partner:
					res.Party = &partnerv1.SearchPartnersResult_Partner{Partner: v}
				case *partnerv1.PartnerGroup:
					res.Party = &partnerv1.SearchPartnersResult_Group{Group: v}
				}
			}
			resp.Results = append(resp.Results, res)
		}
		if end < len(order) {
			resp.NextPageToken = aip.EncodeOffsetToken(query, end)
			if !kept {
				s.rankings.Add(key, order)
			}
		}
	}
	return resp, nil
}

// searchPage returns the caller's own copies of a page's candidates, as the request's read
// mask or view asks and masked for the caller; nil for PARTY_VIEW_NAME without a read mask,
// whose results carry names and scores only: no record is copied, masked or sent.
func (s *Server) searchPage(ctx context.Context, p auth.Principal, req *partnerv1.SearchPartnersRequest, ranks []ranked) []store.ListedParty {
	fields, masked := readMask(req.GetReadMask())
	if !masked && req.GetView() == partnerv1.PartyView_PARTY_VIEW_NAME {
		return nil
	}
	// The candidates are shared with other searches: the page is the caller's own copy,
	// which viewAll masks.
	page := make([]store.ListedParty, 0, len(ranks))
	if !masked {
		withHistory := req.GetView() == partnerv1.PartyView_PARTY_VIEW_FULL
		for _, r := range ranks {
			page = append(page, r.c.Own(withHistory))
		}
		s.viewAll(ctx, p, page)
		return page
	}
	wholes := make([]store.Party, 0, len(ranks))
	for _, r := range ranks {
		page = append(page, r.c.Select(fields))
		wholes = append(wholes, r.c.Party)
	}
	// Without the contact or the etag in the mask there is nothing to mask, audit or stamp.
	if slices.Contains(fields, "contact") || slices.Contains(fields, "etag") {
		s.viewAll(ctx, p, page, wholes...)
		if !slices.Contains(fields, "etag") {
			for _, l := range page {
				setEtag(l.Party, "") // viewAll sets it on every record
			}
		}
	}
	return page
}

// readMask returns the fields a read mask names; masked is false when it names none. The
// proto's rules have checked that each path is a top-level field of a partner or group.
func readMask(m *fieldmaskpb.FieldMask) (fields []protoreflect.Name, masked bool) {
	for _, p := range m.GetPaths() {
		fields = append(fields, protoreflect.Name(p))
	}
	return fields, len(fields) > 0
}

// ranked is a search's candidate with its score. The candidate's record is shared with other
// searches and never changed.
type ranked struct {
	c     store.Candidate
	score int
}

const (
	// rankingsKept bounds the rankings kept for next pages: a few hundred candidates each,
	// a few kilobytes.
	rankingsKept = 256
	// rankingLife is how long a ranking serves its next pages: long enough to page through
	// it, short enough that a partner's change shows on the next first page anyway.
	rankingLife = 30 * time.Second
)
