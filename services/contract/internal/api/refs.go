package api

import (
	"context"
	"fmt"
	"strings"

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
		return 0, apierr.FromPeer(err, "demand", "contract.project", project)
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
			return 0, apierr.FromPeer(err, "partner", field, name)
		}
	}
	return pr.GetProject().GetListType(), nil
}
