package auth

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/jiayuan/jiayuan/platform/region"
)

// Audit records are not log lines that happen to be interesting: they are written whatever
// the log level, because an operator who turns logging down to warn has not asked for the
// audit trail to stop. A service node's calls carry its audit trail (platform/audit, records in
// the service's database) as the [AuditSink] of their context ([WithAuditSink]); without one,
// the records go to the log output (msg "audit"), written past the logger's level.

// AuditRecord is one audited act.
type AuditRecord struct {
	Time      time.Time
	Action    string   // "write" or "read_personal"
	Method    string   // the full gRPC method name
	Resources []string // the resource names acted on
	Region    string   // the smallest region enclosing them ("" when unknown)
	Subject   string
	Roles     []Role
	Data      string // for read_personal: what was shown, e.g. "contact"
}

// AuditSink receives audit records. Implementations must be safe for concurrent use.
type AuditSink interface {
	Audit(ctx context.Context, r AuditRecord) error
}

type auditSinkKey struct{}

// WithAuditSink returns a context whose audit records go to sink instead of the log.
func WithAuditSink(ctx context.Context, sink AuditSink) context.Context {
	return context.WithValue(ctx, auditSinkKey{}, sink)
}

// LogAuditSink writes audit records to a slog handler as "audit" records at level Info,
// bypassing the handler's level: the record is handed to the handler without asking it
// whether Info is enabled.
type LogAuditSink struct {
	Handler slog.Handler
}

// Audit implements AuditSink.
func (s LogAuditSink) Audit(ctx context.Context, r AuditRecord) error {
	rec := slog.NewRecord(r.Time, slog.LevelInfo, "audit", 0)
	rec.AddAttrs(slog.String("action", r.Action))
	if len(r.Resources) == 1 {
		rec.AddAttrs(slog.String("resource", r.Resources[0]))
	} else {
		rec.AddAttrs(slog.Any("resources", r.Resources))
	}
	rec.AddAttrs(
		slog.String("method", r.Method),
		slog.String("subject", r.Subject),
		slog.Any("roles", r.Roles),
	)
	if r.Data != "" {
		rec.AddAttrs(slog.String("data", r.Data))
	}
	if r.Region != "" {
		rec.AddAttrs(slog.String("region", r.Region))
	}
	return s.Handler.Handle(ctx, rec)
}

// AuditWrite records (action "write") that p changed resource through method (the full gRPC
// method name; if empty, the method of the call in ctx).
func AuditWrite(ctx context.Context, log *slog.Logger, p Principal, resource, method string) {
	if method == "" {
		method, _ = grpc.Method(ctx)
	}
	audit(ctx, log, AuditRecord{Action: "write", Method: method, Resources: []string{resource}, Subject: p.Subject, Roles: p.Roles})
}

// Shown is a record a read showed unmasked: its name and the region it belongs to.
type Shown struct {
	Name, Region string
}

// AuditRead records (action "read_personal") that p was shown the personal data of the
// records in shown unmasked, in one record per call however many records it returned; what
// names the data, e.g. "contact". The record's region is the smallest enclosing them all, so
// an auditor of that region sees it. The method is the call's in ctx. Nothing shown, no
// record.
func AuditRead(ctx context.Context, log *slog.Logger, p Principal, what string, shown ...Shown) {
	if len(shown) == 0 {
		return
	}
	names, regions := make([]string, len(shown)), make([]string, len(shown))
	for i, r := range shown {
		names[i], regions[i] = r.Name, r.Region
	}
	method, _ := grpc.Method(ctx)
	audit(ctx, log, AuditRecord{Action: "read_personal", Method: method, Resources: names, Region: region.Common(regions...),
		Subject: p.Subject, Roles: p.Roles, Data: what})
}

// audit delivers r to the context's sink, or else to log's handler past its level.
func audit(ctx context.Context, log *slog.Logger, r AuditRecord) {
	r.Time = time.Now()
	sink, ok := ctx.Value(auditSinkKey{}).(AuditSink)
	if !ok {
		if log == nil {
			log = slog.Default()
		}
		sink = LogAuditSink{Handler: log.Handler()}
	}
	if err := sink.Audit(ctx, r); err != nil && log != nil {
		log.ErrorContext(ctx, "audit record not written", "error", err, "action", r.Action, "method", r.Method, "subject", r.Subject)
	}
}
