// Package resource is the one path every RPC of every service takes to its resources. A write
// goes:
//
//	caller → transaction → load in scope → resolve references in scope → permission → etag
//	→ change (store, outbox) → commit → audit → response view
//
// A handler states only what is its own, as the fields of a [Change]: how to load the
// resource in the caller's scope, which other names the request refers to, who may make the
// change, the change itself, and what the caller is shown. [Run] does the rest, in that order,
// for every service, so a rule added here (the audit trail, a scope check) holds everywhere at
// once.
//
// Out of scope reads exactly like "does not exist": a [Loader] returns sqlstore.ErrNotFound
// for a record the caller may not see, and [Ref] reports a referenced name the caller may not
// see with the same words as one that does not exist.
package resource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/idempotency"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Service holds what every RPC of one service shares: its database, its event outbox, the
// audit trail and the clock.
type Service struct {
	db     *sqlstore.DB
	outbox *eventfeed.Outbox
	// trail takes the audit records of calls whose context carries none (audit.NewContext,
	// which the assembly puts in every call's context with the node's settings).
	trail *audit.Trail
	now   func() time.Time
}

// NewService returns the resource path of a service over its database and event outbox. Audit
// records go to the call's audit.Trail, or else to one over db writing to log; now is the
// clock (time.Now when nil).
func NewService(db *sqlstore.DB, outbox *eventfeed.Outbox, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, outbox: outbox, trail: audit.New(db, log), now: now}
}

// Get reads the resource called name for the caller of ctx with load, outside any
// transaction, and prepares it for them with view (when nil, its etag is set from its
// version). Out of scope is NOT_FOUND, as missing is.
func Get[R proto.Message](ctx context.Context, w *Service, name string, load Loader[R], view func(ctx context.Context, caller auth.Principal, r R, version int64)) (R, error) {
	var zero R
	caller, err := auth.Caller(ctx)
	if err != nil {
		return zero, err
	}
	r, v, err := load(ctx, w.db.Reads(), caller, name)
	if err != nil {
		err = apierr.FromCall(err, name)
		if status.Code(err) == codes.NotFound {
			// A read of a name out of the caller's scope is recorded with the caller, as a
			// write's is (a name that does not exist reads the same, and is recorded the same).
			method, _ := grpc.Method(ctx)
			trail := audit.FromContext(ctx)
			if trail == nil {
				trail = w.trail
			}
			trail.Refused(ctx, audit.Record{
				Subject: caller.Subject, Roles: caller.Roles, Method: method, Resource: name,
				Outcome: audit.Outcome(codes.NotFound),
			})
		}
		return zero, err
	}
	if view != nil {
		view(ctx, caller, r, v)
	} else {
		setEtag(r, v)
	}
	return r, nil
}

// Tx is one write in progress: its transaction, the caller it is made for, and the time it is
// made at (one instant for every record it touches).
type Tx struct {
	sqlstore.Tx
	Caller auth.Principal
	Now    time.Time
	outbox *eventfeed.Outbox
}

// Background returns a Tx over tx for a change the service makes by itself, as caller: one
// that follows another service's feed or sweeps what fell due. Its events go to the service's
// outbox and its time is the service's clock, as an RPC's would.
func (w *Service) Background(tx sqlstore.Tx, caller auth.Principal) *Tx {
	return &Tx{Tx: tx, Caller: caller, Now: w.now(), outbox: w.outbox}
}

// Emit appends an event about subject (a resource name) in regionCode to the service's feed,
// in the write's transaction: it is published exactly when the change commits.
func (t *Tx) Emit(ctx context.Context, subject, regionCode string, payload proto.Message) error {
	if t.outbox == nil {
		return errors.New("resource: the service has no event outbox")
	}
	_, err := t.outbox.Append(ctx, t.Tx, subject, regionCode, payload)
	return err
}

// Loader reads the resource called name as caller sees it, with its version. A resource that
// does not exist, or that the caller may not see, is sqlstore.ErrNotFound: the two must read
// the same.
type Loader[R any] func(ctx context.Context, q sqlstore.Querier, caller auth.Principal, name string) (R, int64, error)

// Ref resolves name, which the request's field refers to, in the caller's scope. A name that
// does not exist or that the caller may not see is INVALID_ARGUMENT naming field, in the same
// words either way; anything else load returns is passed on.
func Ref[R any](ctx context.Context, t *Tx, field, name string, load Loader[R]) (R, int64, error) {
	r, v, err := load(ctx, t.Tx, t.Caller, name)
	if errors.Is(err, sqlstore.ErrNotFound) {
		var zero R
		return zero, 0, apierr.InvalidArgument(field, name+" does not exist")
	}
	return r, v, err
}

// Change is one write RPC's own part. R is the resource the RPC returns.
type Change[R proto.Message] struct {
	// Method is the full gRPC method name: it keys request ids and names the write in the
	// audit trail.
	Method string
	// Name is the resource changed; empty for a create, whose Apply names the new one.
	Name string
	// Etag, when set, must be the resource's current etag (AIP-154).
	Etag string

	// RequestID and Request make a create idempotent (AIP-155): a replay of the same request
	// returns the first response and writes nothing. Empty RequestID: every call creates.
	RequestID string
	Request   proto.Message

	// Load reads the resource in the caller's scope (updates; nil for a create).
	Load Loader[R]
	// Refs resolves every other name the request refers to, with Ref, before any permission
	// is judged. Optional.
	Refs func(ctx context.Context, t *Tx, cur R) error
	// Allow says whether the caller may make the change; on a create cur is the zero R.
	// Required: an error, typically apierr.PermissionDenied, refuses.
	Allow func(caller auth.Principal, cur R) error
	// Apply makes the change: checks its preconditions, stores it, emits its events. It
	// returns the resource as the caller gets it and its new version (1 for a create).
	Apply func(ctx context.Context, t *Tx, cur R, version int64) (R, int64, error)
	// View prepares the result for the caller (masking, etag) after the commit; when nil the
	// resource's etag field, if it has one, is set from its version.
	View func(ctx context.Context, caller auth.Principal, out R, version int64)
	// Conflict is the error for a unique key the write collides with (a meeting already held
	// that day); ALREADY_EXISTS naming the resource when nil.
	Conflict func() error
}

// Run makes the change for the caller of ctx, in one transaction, and returns its result as
// the caller may see it. Errors are status errors, naming the resource.
func Run[R proto.Message](ctx context.Context, w *Service, c Change[R]) (R, error) {
	var zero R
	caller, err := auth.Caller(ctx)
	if err != nil {
		return zero, err
	}
	if c.Allow == nil || c.Apply == nil {
		return zero, apierr.Internal(fmt.Errorf("resource %s: Allow and Apply are required", c.Method))
	}
	trail := audit.FromContext(ctx)
	if trail == nil {
		trail = w.trail
	}
	var (
		out     R
		version int64
		region  string // of the resource loaded, for the record of a refusal
	)
	step := func(ctx context.Context, tx sqlstore.Tx) (R, error) {
		t := &Tx{Tx: tx, Caller: caller, Now: w.now(), outbox: w.outbox}
		var cur R
		var v int64
		if c.Load != nil {
			var err error
			if cur, v, err = c.Load(ctx, tx, caller, c.Name); err != nil {
				return zero, err
			}
			region = regionCode(cur)
		}
		if c.Refs != nil {
			if err := c.Refs(ctx, t, cur); err != nil {
				return zero, err
			}
		}
		if err := c.Allow(caller, cur); err != nil {
			return zero, err
		}
		if c.Load != nil && !aip.EtagMatches(c.Etag, c.Name, v) {
			return zero, apierr.StaleEtag(c.Name)
		}
		var before R
		if c.Load != nil {
			// Apply may change cur in place; the record names the fields it changed.
			before = proto.Clone(cur).(R)
		}
		r, nv, err := c.Apply(ctx, t, cur, v)
		if err != nil {
			return zero, err
		}
		version = nv
		trail.Write(ctx, tx, audit.Record{
			Kind: audit.KindWrite, Subject: caller.Subject, Roles: caller.Roles, Method: c.Method,
			Resource: stringField(r, "name"), RegionCode: regionCode(r), Paths: changedPaths(before, r),
		})
		return r, nil
	}
	if c.Load == nil {
		var replayed bool
		out, replayed, err = idempotency.Create(ctx, w.db, c.Method, c.RequestID, c.Request, step)
		if replayed {
			version = 1
		}
	} else {
		err = w.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			var err error
			out, err = step(ctx, tx)
			return err
		})
	}
	name := c.Name
	if name == "" && err == nil {
		name = stringField(out, "name")
	}
	if err != nil {
		if errors.Is(err, sqlstore.ErrAlreadyExists) && c.Conflict != nil {
			return zero, c.Conflict()
		}
		err = apierr.FromCall(err, name)
		if code := status.Code(err); code == codes.NotFound || code == codes.PermissionDenied {
			// An attempt on a name out of the caller's scope, or beyond their role, is
			// recorded with the caller: the write's transaction rolled back with its record.
			trail.Refused(ctx, audit.Record{
				Subject: caller.Subject, Roles: caller.Roles, Method: c.Method,
				Resource: name, RegionCode: region, Outcome: audit.Outcome(code),
			})
		}
		return zero, err
	}
	if c.View != nil {
		c.View(ctx, caller, out, version)
	} else {
		setEtag(out, version)
	}
	return out, nil
}

// Merge applies an update: it copies the fields of mask (AIP-134) from in onto a copy of cur,
// refusing paths outside updatable, and checks the result against the resource's proto rules,
// once, reporting violations under field ("demand.title"). The etag is a precondition, never
// a path: a mask naming it is read as not naming it.
func Merge[R proto.Message](field string, cur, in R, mask *fieldmaskpb.FieldMask, updatable []string) (R, error) {
	next := proto.Clone(cur).(R)
	if mask != nil {
		paths := make([]string, 0, len(mask.GetPaths()))
		for _, p := range mask.GetPaths() {
			if p != "etag" {
				paths = append(paths, p)
			}
		}
		if len(paths) == 0 && len(mask.GetPaths()) > 0 {
			// Only the etag was named: nothing to change.
			return next, apierr.ValidateAt(field, next)
		}
		mask = &fieldmaskpb.FieldMask{Paths: paths}
	}
	if err := aip.ApplyFieldMask(next, in, mask, updatable); err != nil {
		var zero R
		return zero, apierr.InvalidArgument("update_mask", err.Error())
	}
	if err := apierr.ValidateAt(field, next); err != nil {
		var zero R
		return zero, err
	}
	return next, nil
}

// setEtag sets the resource's etag field, if it has one, from its version.
func setEtag(m proto.Message, version int64) {
	r := m.ProtoReflect()
	if !r.IsValid() {
		return
	}
	fd := r.Descriptor().Fields().ByName("etag")
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return
	}
	r.Set(fd, protoreflect.ValueOfString(aip.Etag(stringField(m, "name"), version)))
}

func stringField(m proto.Message, name protoreflect.Name) string {
	r := m.ProtoReflect()
	if !r.IsValid() {
		return ""
	}
	fd := r.Descriptor().Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	return r.Get(fd).String()
}

// regionCode is the region a resource belongs to, from its community_code or region_code
// field; "" when it has neither.
func regionCode(m proto.Message) string {
	if c := stringField(m, "community_code"); c != "" {
		return c
	}
	return stringField(m, "region_code")
}

// changedPaths lists the top-level fields of after that differ from before, which is nil
// for a create (every field is new). Derived from the result rather than from the request's
// mask, it names what every write changed, a state move or an update, in one place; the
// bookkeeping of every change (etag, update time) is left out.
func changedPaths(before, after proto.Message) []string {
	if before == nil || after == nil {
		return nil
	}
	b, a := before.ProtoReflect(), after.ProtoReflect()
	if !b.IsValid() || !a.IsValid() || b.Descriptor() != a.Descriptor() {
		return nil
	}
	var paths []string
	fields := a.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch fd.Name() {
		case "etag", "update_time":
			continue
		}
		if !equalField(b, a, fd) {
			paths = append(paths, string(fd.Name()))
		}
	}
	return paths
}

func equalField(b, a protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	if b.Has(fd) != a.Has(fd) {
		return false
	}
	if !a.Has(fd) {
		return true
	}
	// Compare the field alone: two messages holding just it.
	x, y := b.New(), a.New()
	x.Set(fd, b.Get(fd))
	y.Set(fd, a.Get(fd))
	return proto.Equal(x.Interface(), y.Interface())
}
