package api

import (
	"context"
	"errors"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/idempotency"
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
var selfUpdatable = []string{"capabilities", "service_areas", "availability", "contact", "description"}

// kindOps is what differs between partners and groups in the standard methods.
type kindOps[T party] struct {
	prefix    string // "partners/"
	field     string // request field holding the resource, for error details
	updatable []string
	newT      func() T
	// check applies the rules the proto cannot state (beyond region codes).
	check func(ctx context.Context, q sqlstore.Querier, p T) error
	// registered wraps the feed copy in the event payload.
	registered func(feedCopy T) *partnerv1.PartnerRegistered
	// init sets the server-assigned fields of a new record.
	init func(p T, name string, now *timestamppb.Timestamp)
	// asCreate wraps a record in its create request, so that the proto's rules check an updated
	// record with the same field paths (partner.display_name, …) as a new one.
	asCreate func(p T) proto.Message
}

func (s *Server) get(ctx context.Context, name string, into party) (int64, error) {
	p, err := principal(ctx)
	if err != nil {
		return 0, err
	}
	version, err := s.load(ctx, s.db.Reads(), p, name, into)
	if err != nil {
		return 0, err
	}
	s.view(ctx, p, into, version)
	return version, nil
}

// load reads the record called name for the caller and returns its version. A record outside
// the caller's scope does not exist for them.
func (s *Server) load(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string, into party) (int64, error) {
	version, err := s.store.GetParty(ctx, q, name, into)
	if err != nil {
		return 0, apierr.FromCall(err, name)
	}
	if !s.visible(p, into) {
		return 0, notFound(name)
	}
	return version, nil
}

func create[T party](ctx context.Context, s *Server, ops kindOps[T], method, requestID string, req proto.Message, in T) (T, error) {
	var zero T
	p, err := principal(ctx)
	if err != nil {
		return zero, err
	}
	if err := s.checkRegions(ops.field, in); err != nil {
		return zero, err
	}
	// Officials register partners in their scope; residents and grid workers put forward
	// applications (open call, door-knocking) in theirs. Either way it starts APPLIED.
	if !s.inScope(p, in.GetRegionCode()) {
		return zero, apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "region "+in.GetRegionCode()+" is outside your region scope")
	}
	now := s.now()
	rec := proto.Clone(in).(T)
	ops.init(rec, ops.prefix+newID(), timestamppb.New(now))
	recordStatus(rec, partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED, p.Subject, "", now)

	out, _, err := idempotency.Create(ctx, s.db, method, requestID, req, func(ctx context.Context, tx sqlstore.Tx) (T, error) {
		if ops.check != nil {
			if err := ops.check(ctx, tx, rec); err != nil {
				return zero, err
			}
		}
		if err := s.store.InsertParty(ctx, tx, rec); err != nil {
			return zero, err
		}
		if _, err := s.outbox.Append(ctx, tx, rec.GetName(), rec.GetRegionCode(), ops.registered(forFeed(rec))); err != nil {
			return zero, err
		}
		return proto.Clone(rec).(T), nil
	})
	if err != nil {
		return zero, s.writeErr(err, ops.field, rec.GetName())
	}
	auth.AuditWrite(ctx, s.log, p, out.GetName(), method)
	s.view(ctx, p, out, 1)
	return out, nil
}

// writeErr maps the errors of a write transaction.
func (s *Server) writeErr(err error, field, name string) error {
	if errors.Is(err, sqlstore.ErrAlreadyExists) {
		// The only unique key a client controls is the credit code.
		return apierr.AlreadyExists(field + ".credit_code: an organisation with this credit code")
	}
	if _, ok := status.FromError(err); ok {
		return apierr.ToStatus(err)
	}
	return apierr.FromCall(err, name)
}

func update[T party](ctx context.Context, s *Server, ops kindOps[T], method string, in T, mask *fieldmaskpb.FieldMask) (T, error) {
	var zero T
	p, err := principal(ctx)
	if err != nil {
		return zero, err
	}
	if !in.ProtoReflect().IsValid() {
		return zero, apierr.InvalidArgument(ops.field, "is required")
	}
	name := in.GetName()
	if !validName(name, ops.prefix) {
		return zero, apierr.InvalidArgument(ops.field+".name", "must be "+ops.prefix+"{id}")
	}
	out := ops.newT()
	var version int64
	err = s.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		cur := ops.newT()
		v, err := s.load(ctx, tx, p, name, cur)
		if err != nil {
			return err
		}
		updatable := ops.updatable
		switch {
		case s.canManage(p, cur.GetRegionCode()):
		case isSelf(p, cur):
			// A partner keeps its own offer and contact current; who it is (name, kind, credit
			// code, region, group) was verified by officials and changes through them.
			updatable = selfUpdatable
		default:
			return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not change "+name)
		}
		if !aip.EtagMatches(in.GetEtag(), name, v) {
			return apierr.StaleEtag(name)
		}
		next := proto.Clone(cur).(T)
		if err := aip.ApplyFieldMask(next, in, mask, updatable); err != nil {
			return apierr.InvalidArgument("update_mask", err.Error())
		}
		if err := protovalidate.Validate(ops.asCreate(next)); err != nil {
			return apierr.FromValidation(err)
		}
		if err := s.checkRegions(ops.field, next); err != nil {
			return err
		}
		// Moving a record out of one's own scope would hand it to someone else.
		if next.GetRegionCode() != cur.GetRegionCode() && !s.canManage(p, next.GetRegionCode()) {
			return apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "region "+next.GetRegionCode()+" is outside your region scope")
		}
		if ops.check != nil {
			if err := ops.check(ctx, tx, next); err != nil {
				return err
			}
		}
		setUpdateTime(next, timestamppb.New(s.now()))
		if version, err = s.store.UpdateParty(ctx, tx, next, v); err != nil {
			return err
		}
		proto.Merge(out, next)
		return nil
	})
	if err != nil {
		return zero, s.writeErr(err, ops.field, name)
	}
	auth.AuditWrite(ctx, s.log, p, name, method)
	s.view(ctx, p, out, version)
	return out, nil
}

func (s *Server) deleteParty(ctx context.Context, method, name, etag string, cur party) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		v, err := s.load(ctx, tx, p, name, cur)
		if err != nil {
			return err
		}
		if !s.canManage(p, cur.GetRegionCode()) {
			return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not delete "+name)
		}
		if !aip.EtagMatches(etag, name, v) {
			return apierr.StaleEtag(name)
		}
		if !domain.Deletable(cur.GetStatus()) {
			return apierr.FailedPrecondition("NOT_DELETABLE", name+" was verified; withdraw it instead so its history stays in the figures")
		}
		if store.KindOf(name) == store.KindGroup {
			counts, err := s.store.MemberCounts(ctx, tx, []string{name})
			if err != nil {
				return err
			}
			if counts[name] > 0 {
				return apierr.FailedPrecondition("HAS_MEMBERS", name+" still has partners; move or delete them first")
			}
		}
		return s.store.DeleteParty(ctx, tx, name, v)
	})
	if err != nil {
		return s.writeErr(err, "name", name)
	}
	auth.AuditWrite(ctx, s.log, p, name, method)
	return nil
}

func changeStatus[T party](ctx context.Context, s *Server, ops kindOps[T], method, name string, to partnerv1.PartnerStatus, reason, etag string) (T, error) {
	var zero T
	p, err := principal(ctx)
	if err != nil {
		return zero, err
	}
	out := ops.newT()
	var version int64
	err = s.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		cur := ops.newT()
		v, err := s.load(ctx, tx, p, name, cur)
		if err != nil {
			return err
		}
		if !aip.EtagMatches(etag, name, v) {
			return apierr.StaleEtag(name)
		}
		roles, self, ok := domain.TransitionActors(cur.GetStatus(), to)
		if !ok {
			return apierr.FailedPrecondition("INVALID_TRANSITION", "cannot move "+name+" from "+statusLabel(cur.GetStatus())+" to "+statusLabel(to))
		}
		allowed := (p.HasRole(roles...) && s.inScope(p, cur.GetRegionCode())) || (self && isSelf(p, cur))
		if !allowed {
			return apierr.PermissionDenied("ROLE_NOT_ALLOWED", "you may not move "+name+" from "+statusLabel(cur.GetStatus())+" to "+statusLabel(to))
		}
		now := s.now()
		change := recordStatus(cur, to, p.Subject, reason, now)
		setUpdateTime(cur, timestamppb.New(now))
		if version, err = s.store.UpdateParty(ctx, tx, cur, v); err != nil {
			return err
		}
		if _, err := s.outbox.Append(ctx, tx, name, cur.GetRegionCode(), &partnerv1.PartnerStatusChanged{
			Name: name, RegionCode: cur.GetRegionCode(), Change: change,
		}); err != nil {
			return err
		}
		proto.Merge(out, cur)
		return nil
	})
	if err != nil {
		return zero, s.writeErr(err, "name", name)
	}
	auth.AuditWrite(ctx, s.log, p, name, method)
	s.view(ctx, p, out, version)
	return out, nil
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

func validName(name, prefix string) bool {
	id, ok := strings.CutPrefix(name, prefix)
	if !ok || len(id) != 26 {
		return false
	}
	_, err := ulidParse(id)
	return err == nil
}
