package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthReport is the /healthz body: each upstream's serving status ("SERVING",
// "NOT_SERVING", …) or, when the check itself failed, the gRPC code it failed with
// ("UNAVAILABLE", "DEADLINE_EXCEEDED", …).
type healthReport struct {
	Status     string            `json:"status"`
	Upstreams  map[string]string `json:"upstreams"`
	NotServing []string          `json:"notServing,omitempty"`
}

// serveHealth checks every upstream concurrently: 200 when all are SERVING, else 503 naming
// the ones that are not.
func (g *Gateway) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		g.writeError(w, r, methodNotAllowed())
		return
	}
	report := healthReport{Status: healthpb.HealthCheckResponse_SERVING.String(), Upstreams: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, u := range g.upstreams {
		wg.Go(func() {
			st := g.checkUpstream(r.Context(), u)
			mu.Lock()
			defer mu.Unlock()
			report.Upstreams[u.Name] = st
			if st != healthpb.HealthCheckResponse_SERVING.String() {
				report.NotServing = append(report.NotServing, u.Name)
			}
		})
	}
	wg.Wait()

	code := http.StatusOK
	if len(report.NotServing) > 0 {
		slices.Sort(report.NotServing)
		report.Status = healthpb.HealthCheckResponse_NOT_SERVING.String()
		code = http.StatusServiceUnavailable
		g.opts.Logger.LogAttrs(r.Context(), slog.LevelWarn, "upstreams not serving",
			slog.Any("upstreams", report.Upstreams))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method == http.MethodGet {
		_ = json.NewEncoder(w).Encode(report)
	}
}

func (g *Gateway) checkUpstream(ctx context.Context, u upstreamConn) string {
	ctx, cancel := context.WithTimeout(ctx, g.opts.HealthTimeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(u.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: u.HealthService})
	if err != nil {
		return codeName(status.Code(err))
	}
	return resp.GetStatus().String()
}

// accessLog logs one line per request: method, path (not the query, which may carry
// personal data in filters), status, duration; trace ids come from the logger's handler.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		switch {
		case r.URL.Path == "/healthz" && rec.status == http.StatusOK:
			level = slog.LevelDebug
		case rec.status >= 500:
			level = slog.LevelError
		}
		logger.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// statusRecorder remembers the status written; Unwrap lets http.ResponseController reach
// the underlying writer (flushing, deadlines).
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
