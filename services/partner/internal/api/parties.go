package api

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/partner/internal/domain"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

// party is a partner or a group, as the generic handlers below need them.
type party interface {
	store.Party
	GetContact() *partnerv1.Contact
	GetEtag() string
}

// selfUpdatable are the fields a partner may change on its own record.
// Where it serves, like who it is, changes through an official: a partner widening its own
// service areas would be shown to residents of communities no official agreed to.
var selfUpdatable = []string{"capabilities", "availability", "contact", "description"}

// kindOps is what differs between partners and groups in the standard methods.
type kindOps[T party] struct {
	collection string // "partners"
	field      string // request field holding the resource, for error details
	updatable  []string
	newT       func() T
	// refs resolves, in the caller's scope, the names the record refers to (a partner's group)
	// and applies the rules the proto cannot state (beyond region codes).
	refs func(ctx context.Context, t *resource.Tx, rec T) error
	// registered wraps the feed copy in the event payload.
	registered func(feedCopy T) *partnerv1.PartnerRegistered
	// init sets the server-assigned fields of a new record.
	init func(p T, name string, now *timestamppb.Timestamp)
}

// get reads the party called name into into, for the caller, through the resource path.
func (s *Server) get(ctx context.Context, name string, into party) error {
	_, err := resource.Get(ctx, s.res, name,
		func(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (party, int64, error) {
			v, err := s.load(ctx, q, p, name, into)
			return into, v, err
		},
		func(ctx context.Context, p auth.Principal, r party, v int64) { s.view(ctx, p, r, v) })
	return err
}

// load reads the record called name for the caller and returns its version. A record outside
// the caller's scope does not exist for them (sqlstore.ErrNotFound).
func (s *Server) load(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string, into store.Party) (int64, error) {
	version, err := s.store.GetParty(ctx, q, name, into)
	if err != nil {
		return 0, err
	}
	if !s.visible(p, into) {
		return 0, sqlstore.ErrNotFound
	}
	return version, nil
}

// loader is the resource.Loader of one kind of party.
func loader[T party](s *Server, newT func() T) resource.Loader[T] {
	return func(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (T, int64, error) {
		rec := newT()
		v, err := s.load(ctx, q, p, name, rec)
		if err != nil {
			var zero T
			return zero, 0, err
		}
		return rec, v, nil
	}
}

// anyParty is the resource.Loader of a party of either kind, by its name.
func (s *Server) anyParty(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (store.Party, int64, error) {
	rec := store.NewParty(name)
	v, err := s.load(ctx, q, p, name, rec)
	return rec, v, err
}

func create[T party](ctx context.Context, s *Server, ops kindOps[T], method, requestID string, req proto.Message, in T) (T, error) {
	var zero T
	if err := s.checkRegions(ops.field, in); err != nil {
		return zero, err
	}
	return resource.Run(ctx, s.res, resource.Change[T]{
		Method: method, RequestID: requestID, Request: req,
		Refs: func(ctx context.Context, t *resource.Tx, _ T) error {
			if ops.refs == nil {
				return nil
			}
			return ops.refs(ctx, t, in)
		},
		// Officials register partners in their scope; residents and grid workers put forward
		// applications (open call, door-knocking) in theirs. Either way it starts APPLIED, and
		// serves only places within the scope of whoever put it forward.
		Allow: func(p auth.Principal, _ T) error {
			if !s.inScope(p, in.GetRegionCode()) {
				return apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "region "+in.GetRegionCode()+" is outside your region scope")
			}
			return s.allowAreas(p, ops.field, nil, in.GetServiceAreas())
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ T, _ int64) (T, int64, error) {
			rec := proto.Clone(in).(T)
			ops.init(rec, aip.NewName(ops.collection), timestamppb.New(t.Now))
			recordStatus(rec, partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED, t.Caller.Subject, "", t.Now)
			if err := s.store.InsertParty(ctx, t, rec); err != nil {
				return zero, 0, err
			}
			if err := t.Emit(ctx, rec.GetName(), rec.GetRegionCode(), ops.registered(forFeed(rec))); err != nil {
				return zero, 0, err
			}
			return proto.Clone(rec).(T), 1, nil
		},
		View:     func(ctx context.Context, p auth.Principal, out T, v int64) { s.view(ctx, p, out, v) },
		Conflict: func() error { return creditCodeTaken(ops.field) },
	})
}

// creditCodeTaken is the error for a unique key a write collides with: the only one a client
// controls is a group's credit code.
func creditCodeTaken(field string) error {
	return apierr.AlreadyExists(field + ".credit_code: an organisation with this credit code")
}

// allowAreas refuses service areas, of those in next that were not in cur, outside the
// caller's scope: no one offers a partner's services where they do not act.
func (s *Server) allowAreas(p auth.Principal, field string, cur, next []string) error {
	for i, a := range next {
		if !slices.Contains(cur, a) && !s.inScope(p, a) {
			return apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", fmt.Sprintf("%s.service_areas[%d]: region %s is outside your region scope", field, i, a))
		}
	}
	return nil
}

func update[T party](ctx context.Context, s *Server, ops kindOps[T], method string, in T, mask *fieldmaskpb.FieldMask) (T, error) {
	var zero T
	if !in.ProtoReflect().IsValid() {
		return zero, apierr.InvalidArgument(ops.field, "is required")
	}
	name := in.GetName()
	if !aip.ValidName(name, ops.collection) {
		return zero, apierr.InvalidArgument(ops.field+".name", "must be "+ops.collection+"/{id}")
	}
	var next T
	return resource.Run(ctx, s.res, resource.Change[T]{
		Method: method, Name: name, Etag: in.GetEtag(), Load: loader(s, ops.newT),
		Allow: func(p auth.Principal, cur T) error {
			if !s.canManage(p, cur.GetRegionCode()) && !isSelf(p, cur) {
				return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not change "+name)
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, cur T, v int64) (T, int64, error) {
			p := t.Caller
			updatable := ops.updatable
			if !s.canManage(p, cur.GetRegionCode()) {
				// A partner keeps its own offer and contact current; who it is (name, kind,
				// credit code, region, group) and where it serves were verified by officials
				// and change through them.
				updatable = selfUpdatable
			}
			var err error
			if next, err = resource.Merge(ops.field, cur, in, mask, updatable); err != nil {
				return zero, 0, err
			}
			if err := s.checkRegions(ops.field, next); err != nil {
				return zero, 0, err
			}
			// Moving a record out of one's own scope would hand it to someone else.
			if next.GetRegionCode() != cur.GetRegionCode() && !s.canManage(p, next.GetRegionCode()) {
				return zero, 0, apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "region "+next.GetRegionCode()+" is outside your region scope")
			}
			if err := s.allowAreas(p, ops.field, cur.GetServiceAreas(), next.GetServiceAreas()); err != nil {
				return zero, 0, err
			}
			if ops.refs != nil {
				if err := ops.refs(ctx, t, next); err != nil {
					return zero, 0, err
				}
			}
			setUpdateTime(next, timestamppb.New(t.Now))
			version, err := s.store.UpdateParty(ctx, t, next, v)
			return next, version, err
		},
		View:     func(ctx context.Context, p auth.Principal, out T, v int64) { s.view(ctx, p, out, v) },
		Conflict: func() error { return creditCodeTaken(ops.field) },
	})
}

func (s *Server) deleteParty(ctx context.Context, method, name, etag string) error {
	_, err := resource.Run(ctx, s.res, resource.Change[store.Party]{
		Method: method, Name: name, Etag: etag, Load: s.anyParty,
		Allow: func(p auth.Principal, cur store.Party) error {
			if !s.canManage(p, cur.GetRegionCode()) {
				return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not delete "+name)
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, cur store.Party, v int64) (store.Party, int64, error) {
			if !domain.Deletable(cur.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("NOT_DELETABLE", name+" was verified; withdraw it instead so its history stays in the figures")
			}
			if store.KindOf(name) == store.KindGroup {
				counts, err := s.store.MemberCounts(ctx, t, []string{name})
				if err != nil {
					return nil, 0, err
				}
				if counts[name] > 0 {
					return nil, 0, apierr.FailedPrecondition("HAS_MEMBERS", name+" still has partners; move or delete them first")
				}
			}
			return cur, v, s.store.DeleteParty(ctx, t, name, v)
		},
		View: func(context.Context, auth.Principal, store.Party, int64) {},
	})
	return err
}

func changeStatus[T party](ctx context.Context, s *Server, ops kindOps[T], method, name string, to partnerv1.PartnerStatus, reason, etag string) (T, error) {
	var zero T
	return resource.Run(ctx, s.res, resource.Change[T]{
		Method: method, Name: name, Etag: etag, Load: loader(s, ops.newT),
		Allow: func(p auth.Principal, cur T) error {
			roles, self, ok := domain.TransitionActors(cur.GetStatus(), to)
			if !ok {
				return apierr.FailedPrecondition("INVALID_TRANSITION", "cannot move "+name+" from "+statusLabel(cur.GetStatus())+" to "+statusLabel(to))
			}
			if !(p.HasRole(roles...) && s.inScope(p, cur.GetRegionCode())) && !(self && isSelf(p, cur)) {
				return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not move "+name+" from "+statusLabel(cur.GetStatus())+" to "+statusLabel(to))
			}
			return nil
		},
		Apply: func(ctx context.Context, t *resource.Tx, cur T, v int64) (T, int64, error) {
			change := recordStatus(cur, to, t.Caller.Subject, reason, t.Now)
			setUpdateTime(cur, timestamppb.New(t.Now))
			version, err := s.store.UpdateParty(ctx, t, cur, v)
			if err != nil {
				return zero, 0, err
			}
			return cur, version, t.Emit(ctx, name, cur.GetRegionCode(), &partnerv1.PartnerStatusChanged{
				Name: name, RegionCode: cur.GetRegionCode(), Change: change,
			})
		},
		View: func(ctx context.Context, p auth.Principal, out T, v int64) { s.view(ctx, p, out, v) },
	})
}

func statusLabel(st partnerv1.PartnerStatus) string {
	return strings.TrimPrefix(st.String(), "PARTNER_STATUS_")
}

func setUpdateTime(party store.Party, t *timestamppb.Timestamp) {
	switch v := party.(type) {
	case *partnerv1.Partner:
		v.UpdateTime = t
	case *partnerv1.PartnerGroup:
		v.UpdateTime = t
	}
}
