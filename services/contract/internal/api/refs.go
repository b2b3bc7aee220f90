package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// resolveDraft resolves the names a hand-drafted contract refers to, in the caller's scope:
// the project (the demand service's) must exist, belong to the contract's community and be
// seen by the caller, and each partner (the partner service's) must exist. Both are read with
// this service's own credentials and then judged against the caller's, so that a project out
// of scope reads exactly like a missing one. It returns the project's list type.
func (s *Server) resolveDraft(ctx context.Context, p auth.Principal, project, community string, partners []string) (demandv1.ListType, error) {
	if s.projects == nil || s.parties == nil {
		return 0, apierr.Internal(fmt.Errorf("contract: no peers to resolve %s", project))
	}
	pr, err := s.projects.GetProject(ctx, &demandv1.GetProjectRequest{Name: project})
	if err != nil {
		return 0, peerErr(err, "contract.project", project, "demand")
	}
	if !s.manages(p, pr.GetProject().GetCommunityCode()) && !s.seesCommunity(p, pr.GetProject().GetCommunityCode()) {
		return 0, apierr.InvalidArgument("contract.project", project+" does not exist")
	}
	if got := pr.GetProject().GetCommunityCode(); got != community {
		return 0, apierr.InvalidArgument("contract.community_code", project+" belongs to community "+got+", not "+community)
	}
	for i, name := range partners {
		field := fmt.Sprintf("partners[%d]", i)
		if strings.HasPrefix(name, "partnerGroups/") {
			_, err = s.parties.GetPartnerGroup(ctx, &partnerv1.GetPartnerGroupRequest{Name: name})
		} else {
			_, err = s.parties.GetPartner(ctx, &partnerv1.GetPartnerRequest{Name: name})
		}
		if err != nil {
			return 0, peerErr(err, field, name, "partner")
		}
	}
	return pr.GetProject().GetListType(), nil
}

// peerErr turns a peer's refusal to read name into this request's error on field. The peer is
// called with this service's credentials, so only a name it finds malformed or missing is the
// caller's doing; a peer that is down or throttles this service is a retry; anything else (a
// peer refusing this service's role) is the deployment's fault, an internal error.
func peerErr(err error, field, name, peer string) error {
	switch status.Code(err) {
	case codes.NotFound:
		return apierr.InvalidArgument(field, name+" does not exist")
	case codes.InvalidArgument:
		return apierr.InvalidArgument(field, name+" is not a name the "+peer+" service takes")
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted:
		return apierr.Unavailable("the "+peer+" service does not answer; try again", 2*time.Second)
	}
	return apierr.Internal(fmt.Errorf("contract: read %s: %w", name, err))
}
