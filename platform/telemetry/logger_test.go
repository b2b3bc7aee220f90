package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jiayuan/jiayuan/platform/telemetry"
)

func TestLoggerAddsTraceIDs(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	sc := span.SpanContext()

	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want map[string]string // keys that must be present with these values
	}{
		{
			name: "context method",
			log:  func(l *slog.Logger) { l.InfoContext(ctx, "hello") },
			want: map[string]string{"msg": "hello", "trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()},
		},
		{
			name: "LogAttrs with attrs",
			log: func(l *slog.Logger) {
				l.With("service", "partner").LogAttrs(ctx, slog.LevelWarn, "attrs", slog.Int("n", 1))
			},
			want: map[string]string{"msg": "attrs", "service": "partner", "trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(telemetry.NewLogger(&buf, slog.LevelInfo, "json"))
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("log line %q is not JSON: %v", buf.String(), err)
			}
			for k, v := range tt.want {
				if got, _ := rec[k].(string); got != v {
					t.Errorf("%s = %q, want %q (record %v)", k, got, v, rec)
				}
			}
		})
	}

	span.End()
	if got := len(exp.GetSpans()); got != 1 {
		t.Fatalf("exported spans = %d, want 1", got)
	}
}

func TestLoggerWithoutSpanHasNoTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	telemetry.NewLogger(&buf, slog.LevelInfo, "json").InfoContext(context.Background(), "plain")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec["trace_id"]; ok {
		t.Errorf("record without a span has trace_id: %v", rec)
	}
}

func TestLoggerTextFormatAndLevel(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	var buf bytes.Buffer
	l := telemetry.NewLogger(&buf, slog.LevelWarn, "text")
	l.InfoContext(ctx, "dropped")
	l.WarnContext(ctx, "kept")
	out := buf.String()
	if strings.Contains(out, "dropped") {
		t.Errorf("info record logged at warn level: %q", out)
	}
	want := "trace_id=" + span.SpanContext().TraceID().String()
	if !strings.Contains(out, "msg=kept") || !strings.Contains(out, want) {
		t.Errorf("text output %q lacks msg=kept or %s", out, want)
	}
}
