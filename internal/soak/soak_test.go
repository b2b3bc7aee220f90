package soak_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/internal/soak"
)

// TestSoak runs `jiayuan dev` (the real binary) at a city's peak, 250 mixed calls a second
// over REST, and fails on any failed call, and, on a run of minutes, on resident memory or
// goroutines still rising in the last third. JIAYUAN_SOAK sets the length (`make chaos-soak`:
// SOAK=30m); without it this is a smoke of 20 s for `make test`, too short for a trend.
// JIAYUAN_SOAK_RATE changes the rate, JIAYUAN_SOAK_BINARY runs a binary already built.
func TestSoak(t *testing.T) {
	duration, every := 20*time.Second, 2*time.Second
	long := false
	if v := os.Getenv("JIAYUAN_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("JIAYUAN_SOAK=%q: want a duration such as 30m", v)
		}
		duration, long = d, d >= 2*time.Minute
		every = min(30*time.Second, d/10)
	}
	rate := 250
	if v := os.Getenv("JIAYUAN_SOAK_RATE"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r <= 0 {
			t.Fatalf("JIAYUAN_SOAK_RATE=%q: want calls a second", v)
		}
		rate = r
	}
	dir := t.TempDir()
	bin := os.Getenv("JIAYUAN_SOAK_BINARY")
	if bin == "" {
		bin = filepath.Join(dir, "jiayuan")
		build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/jiayuan/jiayuan/cmd/jiayuan")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	res, err := soak.Run(t.Context(), soak.Config{Binary: bin, Duration: duration, Rate: rate, Every: every, Dir: dir, Out: tlog{t}})
	if err != nil {
		t.Fatal(err)
	}
	scheduled := res.Calls + res.Behind
	t.Logf("%d calls in %s (%.0f/s, target %d/s), %d failed, %d not started (every worker busy)",
		res.Calls, res.Elapsed.Round(time.Second), float64(res.Calls)/res.Elapsed.Seconds(), rate, res.Failed, res.Behind)
	for name, n := range res.ByOp {
		t.Logf("  %-36s %d", name, n)
	}
	t.Logf("latency, first third → last third (p50 / p99):")
	for _, l := range res.Latency {
		t.Logf("  %-36s %8s / %8s → %8s / %8s", l.Op, l.FirstP50.Round(100*time.Microsecond), l.FirstP99.Round(100*time.Microsecond),
			l.LastP50.Round(100*time.Microsecond), l.LastP99.Round(100*time.Microsecond))
	}
	if res.Failed > 0 {
		t.Errorf("%d of %d calls failed; the first:\n%v", res.Failed, res.Calls, res.Errors)
	}
	if res.Calls == 0 {
		t.Fatal("no call was made")
	}
	for _, s := range res.Samples {
		if s.RSS == 0 || s.Goroutines == 0 {
			t.Errorf("a sample at %s lacks memory or goroutines: %+v", s.At, s)
		}
	}
	if !long {
		return
	}
	// At peak means at peak: a suite that falls behind the schedule is not soaked at 250/s.
	if float64(res.Behind) > 0.05*float64(scheduled) {
		t.Errorf("%d of %d scheduled calls could not start: the suite served below the target rate", res.Behind, scheduled)
	}
	if err := res.Trend(15, 10); err != nil {
		t.Error(err)
	}
}

// tlog prints the curve through the test's log, each sample as it is taken.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
