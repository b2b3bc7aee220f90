// Package regionapi serves the region tree over gRPC (jiayuan.region.v1.RegionService), so
// front ends read region codes, names and levels instead of hard-coding them. Every service
// node registers it through the shared assembly (platform/assembly); it reads only the
// deployment's tree, which every node loads, so it needs no database and no peer.
//
// A caller sees the regions of its scope subtrees and the path above each of them (a
// breadcrumb needs the ancestors' names). Any other region reads exactly like one that is not
// in the tree: NOT_FOUND.
package regionapi

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	regionv1 "github.com/jiayuan/jiayuan/gen/jiayuan/region/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
)

// Page sizes of ListRegions (AIP-158); the proto's comment and validation say the same.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

const namePrefix = "regions/"

// Server implements regionv1.RegionServiceServer over one region tree.
type Server struct {
	regionv1.UnimplementedRegionServiceServer
	tree *region.Tree
}

// New returns the service over tree.
func New(tree *region.Tree) *Server { return &Server{tree: tree} }

// Policies lets every role read the tree; what each caller sees is cut by its scope.
func Policies() auth.Policies {
	all := auth.Roles()
	return auth.Policies{
		regionv1.RegionService_GetRegion_FullMethodName:   auth.Allow(all...),
		regionv1.RegionService_ListRegions_FullMethodName: auth.Allow(all...),
	}
}

// Register adds the service to srv.
func (s *Server) Register(srv grpc.ServiceRegistrar) {
	regionv1.RegisterRegionServiceServer(srv, s)
}

// GetRegion returns a region the caller may see.
func (s *Server) GetRegion(ctx context.Context, req *regionv1.GetRegionRequest) (*regionv1.GetRegionResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	n, ok := s.visible(p, strings.TrimPrefix(req.GetName(), namePrefix))
	if !ok {
		return nil, apierr.NotFound(req.GetName())
	}
	return &regionv1.GetRegionResponse{Region: toProto(n)}, nil
}

// ListRegions lists the visible children of parent, or the root when parent is empty.
func (s *Server) ListRegions(ctx context.Context, req *regionv1.ListRegionsRequest) (*regionv1.ListRegionsResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var candidates []region.Node
	if req.GetParent() == "" {
		candidates = []region.Node{s.tree.Root()}
	} else {
		parent, ok := s.visible(p, strings.TrimPrefix(req.GetParent(), namePrefix))
		if !ok {
			return nil, apierr.NotFound(req.GetParent())
		}
		candidates = s.tree.Children(parent.Code)
	}
	// The token is bound to the parent and the caller's scope: the same offset in another list
	// would skip the wrong regions.
	query := aip.Fingerprint(append([]string{"regions", req.GetParent()}, p.Scope...)...)
	skip, err := aip.DecodeOffsetToken(req.GetPageToken(), query)
	if err != nil {
		return nil, apierr.InvalidArgument("page_token", err.Error())
	}
	size := aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize)
	resp := &regionv1.ListRegionsResponse{}
	seen := 0
	for _, n := range candidates {
		if !s.canSee(p, n.Code) {
			continue
		}
		seen++
		if seen <= skip {
			continue
		}
		if len(resp.Regions) == size {
			resp.NextPageToken = aip.EncodeOffsetToken(query, skip+size)
			break
		}
		resp.Regions = append(resp.Regions, toProto(n))
	}
	return resp, nil
}

// visible returns the node of code when p may see it.
func (s *Server) visible(p auth.Principal, code string) (region.Node, bool) {
	n, ok := s.tree.Get(code)
	if !ok || !s.canSee(p, code) {
		return region.Node{}, false
	}
	return n, true
}

// canSee reports whether code is in one of p's scope subtrees or on the path above one.
func (s *Server) canSee(p auth.Principal, code string) bool {
	if p.InScope(s.tree, code) {
		return true
	}
	for _, root := range p.Scope {
		if s.tree.Contains(code, root) {
			return true
		}
	}
	return false
}

// caller returns the authenticated principal; the interceptor guarantees one on every method
// of this service, whose policies are not public.
func caller(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, status.Error(codes.Unauthenticated, "no authenticated caller")
	}
	return p, nil
}

func toProto(n region.Node) *regionv1.Region {
	r := &regionv1.Region{Name: namePrefix + n.Code, Code: n.Code, DisplayName: n.Name, Level: level(n.Level)}
	if n.Parent != "" {
		r.Parent = namePrefix + n.Parent
	}
	return r
}

func level(l region.Level) regionv1.Level {
	switch l {
	case region.LevelDistrict:
		return regionv1.Level_LEVEL_DISTRICT
	case region.LevelSubdistrict:
		return regionv1.Level_LEVEL_SUBDISTRICT
	case region.LevelCommunity:
		return regionv1.Level_LEVEL_COMMUNITY
	case region.LevelGrid:
		return regionv1.Level_LEVEL_GRID
	}
	return regionv1.Level_LEVEL_UNSPECIFIED
}
