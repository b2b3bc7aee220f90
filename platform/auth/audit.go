package auth

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
)

// AuditWrite records, as a structured log line (msg "audit", action "write"), that p changed
// resource through method (the full gRPC method name; if empty, the method of the call in ctx).
func AuditWrite(ctx context.Context, log *slog.Logger, p Principal, resource, method string) {
	if method == "" {
		method, _ = grpc.Method(ctx)
	}
	audit(ctx, log, p, "write", slog.String("resource", resource), method, slog.Attr{})
}

// AuditRead records (action "read_personal") that p was shown the personal data of resources
// unmasked, in one line per call however many records it returned; what names the data, e.g.
// "contact". The method is the call's in ctx. No resources, no line.
func AuditRead(ctx context.Context, log *slog.Logger, p Principal, what string, resources ...string) {
	if len(resources) == 0 {
		return
	}
	method, _ := grpc.Method(ctx)
	resource := slog.Attr{}
	if len(resources) == 1 {
		resource = slog.String("resource", resources[0])
	} else {
		resource = slog.Any("resources", resources)
	}
	audit(ctx, log, p, "read_personal", resource, method, slog.String("data", what))
}

func audit(ctx context.Context, log *slog.Logger, p Principal, action string, resource slog.Attr, method string, extra slog.Attr) {
	attrs := []slog.Attr{
		slog.String("action", action),
		resource,
		slog.String("method", method),
		slog.String("subject", p.Subject),
		slog.Any("roles", p.Roles),
	}
	if extra.Key != "" {
		attrs = append(attrs, extra)
	}
	// Info, not Debug: production runs at Info, and the audit trail must not depend on debugging.
	log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
}
