// Package auditapi serves a service's audit trail (platform/audit) to auditors over gRPC
// (jiayuan.audit.v1.AuditService). Every service node registers it through the shared
// assembly (platform/assembly), over its own database: each service keeps its own records.
//
// Only the auditor role may call it: the people whose acts are recorded (admins included) do
// not read or curate their own trail. An auditor sees the records about regions within their
// scope; a record about another region, or about no known region unless the auditor's scope
// is the whole district, reads as absent.
package auditapi

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/jiayuan/jiayuan/gen/jiayuan/audit/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Page sizes of ListAuditRecords (AIP-158); the proto's comment and validation say the same.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// Server implements auditv1.AuditServiceServer over one service's database.
type Server struct {
	auditv1.UnimplementedAuditServiceServer
	service string
	db      *sqlstore.DB
	tree    *region.Tree
}

// New returns the audit service of the service called service, whose records are in db.
func New(service string, db *sqlstore.DB, tree *region.Tree) *Server {
	return &Server{service: service, db: db, tree: tree}
}

// Policies lets auditors, and only them, read the trail.
func Policies() auth.Policies {
	return auth.Policies{
		auditv1.AuditService_ListAuditRecords_FullMethodName: auth.Allow(auth.RoleAuditor),
	}
}

// Register adds the service to srv.
func (s *Server) Register(srv grpc.ServiceRegistrar) {
	auditv1.RegisterAuditServiceServer(srv, s)
}

var kinds = map[string]auditv1.AuditRecord_Kind{
	audit.KindWrite:        auditv1.AuditRecord_KIND_WRITE,
	audit.KindReadPersonal: auditv1.AuditRecord_KIND_READ_PERSONAL,
	audit.KindRefused:      auditv1.AuditRecord_KIND_REFUSED,
	audit.KindPurge:        auditv1.AuditRecord_KIND_PURGE,
}

// ListAuditRecords lists the records the caller may see, oldest first (insert order), one
// page at a time.
func (s *Server) ListAuditRecords(ctx context.Context, req *auditv1.ListAuditRecordsRequest) (*auditv1.ListAuditRecordsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	parent := "services/" + s.service
	if req.GetParent() != parent {
		// Another service's records are kept by that service; the gateway routes by parent.
		return nil, apierr.NotFound(req.GetParent())
	}
	if (req.GetStartTime() != nil && req.GetStartTime().CheckValid() != nil) || (req.GetEndTime() != nil && req.GetEndTime().CheckValid() != nil) {
		return nil, apierr.InvalidArgument("start_time", "not a valid time")
	}
	var (
		args  sqlstore.Args
		where []string
	)
	for _, f := range []struct{ column, value string }{
		{"subject", req.GetSubject()}, {"method", req.GetMethod()}, {"outcome", req.GetOutcome()},
	} {
		if f.value != "" {
			where = append(where, f.column+" = "+args.Add(f.value))
		}
	}
	if r := req.GetResource(); r != "" {
		// A read's record names every resource it showed, space-separated.
		v := args.Add(r)
		where = append(where, "(resource = "+v+" OR ' ' || resource || ' ' LIKE '% ' || "+v+" || ' %')")
	}
	if t := req.GetStartTime(); t != nil {
		where = append(where, "time_us >= "+args.Add(t.AsTime().UnixMicro()))
	}
	if t := req.GetEndTime(); t != nil {
		where = append(where, "time_us < "+args.Add(t.AsTime().UnixMicro()))
	}
	// The caller's scope: records of regions below a scope root (a region code extends its
	// parent's), and records of no known region only for a caller of the whole district.
	var scope []string
	for _, root := range p.Scope {
		if root == s.tree.Root().Code {
			scope = append(scope, "region_code = ''")
		}
		scope = append(scope, "region_code LIKE "+args.Add(root+"%"))
	}
	if len(scope) == 0 {
		scope = []string{"1 = 0"}
	}
	where = append(where, "("+strings.Join(scope, " OR ")+")")

	query := aip.Fingerprint(parent, req.GetSubject(), req.GetResource(), req.GetMethod(), req.GetOutcome(),
		req.GetStartTime().String(), req.GetEndTime().String(), strings.Join(p.Scope, ","))
	after, err := aip.DecodePageToken(req.GetPageToken(), query, 1)
	if err != nil {
		return nil, apierr.InvalidArgument("page_token", err.Error())
	}
	if after != nil {
		seq, err := strconv.ParseInt(after[0], 10, 64)
		if err != nil {
			return nil, apierr.InvalidArgument("page_token", aip.ErrBadPageToken.Error())
		}
		where = append(where, "seq > "+args.Add(seq))
	}
	size := aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize)
	recs, seqs, err := audit.List(ctx, s.db.Reads(), strings.Join(where, " AND "), &args, size+1)
	if err != nil {
		return nil, apierr.FromCall(err, parent)
	}
	resp := &auditv1.ListAuditRecordsResponse{}
	if len(recs) > size {
		recs, seqs = recs[:size], seqs[:size]
		resp.NextPageToken = aip.EncodePageToken(query, strconv.FormatInt(seqs[size-1], 10))
	}
	for _, r := range recs {
		if r.RegionCode != "" && !p.InScope(s.tree, r.RegionCode) {
			continue // a code the SQL prefix matched but the tree does not place in scope
		}
		resp.AuditRecords = append(resp.AuditRecords, s.toProto(r))
	}
	return resp, nil
}

func (s *Server) toProto(r audit.Record) *auditv1.AuditRecord {
	roles := make([]string, len(r.Roles))
	for i, role := range r.Roles {
		roles[i] = string(role)
	}
	return &auditv1.AuditRecord{
		Name: "services/" + s.service + "/auditRecords/" + r.ID, Time: timestamppb.New(r.Time.Truncate(time.Microsecond)),
		Kind: kinds[r.Kind], Subject: r.Subject, Roles: roles, Method: r.Method, Resource: r.Resource,
		RegionCode: r.RegionCode, Outcome: r.Outcome, ChangedPaths: r.Paths, Detail: r.Detail,
		Position: r.Position, Hash: hex.EncodeToString(r.Hash),
	}
}
