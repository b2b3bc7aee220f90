package chaos_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/internal/demo"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// TestStoppedConsumerCatchesUp stops the reporting service, which follows every other
// service's feed, while demands are recorded, then starts it again: it catches up with every
// event, each applied once (its headline counts exactly the demands recorded), and its lag metric, scraped from the Prometheus
// page as the alert reads it, shows the backlog and then drains to zero. `go test` stops it
// for seconds with hundreds of events behind; JIAYUAN_CHAOS=long for minutes.
func TestStoppedConsumerCatchesUp(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			// go test records 300 demands while reporting is stopped; the long version keeps
			// it stopped two minutes while demands keep coming, ten at a time.
			backlog, stopped := 300, time.Duration(0)
			if longOn(b) {
				stopped = 2 * time.Minute
			}
			c := startCluster(t, clusterConfig{URL: func(t *testing.T, _ string) string { return b.NewURL(t) }, PoolSize: 4})
			for _, spec := range suite.Services() {
				c.waitServing(spec.Name, 0)
			}
			demands := demandv1.NewDemandServiceClient(c.dial("demand"))
			reports := reportingv1.NewReportServiceClient(c.dial("reporting"))
			// Deadlines of minutes: on a loaded machine under the race detector SQLite's writes
			// are slow, and what this test measures is the consumer, not the writes.
			ctx, cancel := context.WithTimeout(c.as(t.Context(), staff), 5*time.Minute)
			defer cancel()
			create := func(from, to int) {
				t.Helper()
				var wg sync.WaitGroup
				errs := make(chan error, to-from)
				next := make(chan int)
				// SQLite takes one writer at a time, and under the race detector its (pure Go)
				// engine is slow enough that four writers queue past its busy timeout.
				writers := 4
				if b.Name == "sqlite" {
					writers = 2
				}
				for range writers {
					wg.Go(func() {
						for i := range next {
							_, err := demands.CreateDemand(ctx, &demandv1.CreateDemandRequest{Demand: problem(fmt.Sprintf("积压 第%d号 楼道灯坏了", i))})
							if err != nil {
								errs <- err
							}
						}
					})
				}
				for i := from; i < to; i++ {
					next <- i
				}
				close(next)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
			}
			headline := func() *reportingv1.Figures {
				// Waiting for the connection: just after reporting's start, the client may still
				// be waiting to dial it again (platform/grpcclient's reconnection backoff).
				resp, err := reports.GetHeadline(c.as(t.Context(), officer), &reportingv1.GetHeadlineRequest{RegionCode: demo.District, Period: today()},
					grpc.WaitForReady(true))
				if err != nil {
					t.Fatal(err)
				}
				return resp.GetFigures()
			}
			caughtUp := func(n int64) bool {
				return headline().GetDemands() == n
			}
			waitFor := func(what string, limit time.Duration, ok func() bool) {
				t.Helper()
				deadline := time.Now().Add(limit)
				for !ok() {
					if time.Now().After(deadline) {
						t.Fatalf("%s: not within %v (headline %v)", what, limit, headline())
					}
					time.Sleep(50 * time.Millisecond)
				}
			}

			// Reporting follows, then stops.
			const before = 20
			create(0, before)
			waitFor("reporting counts the first demands", time.Minute, func() bool { return caughtUp(before) })
			// Where its cursor stood when it stopped, from its own metric.
			var stoppedAt lagSample
			waitFor("reporting's cursor on its metrics page", time.Minute, func() bool {
				var err error
				stoppedAt, err = scrapeLag(t.Context(), c.MetricsURL, "reporting", "demand")
				return err == nil && stoppedAt.found && stoppedAt.cursor > 0
			})
			c.stopReplica("reporting", 0)

			at := time.Now()
			create(before, before+backlog)
			for time.Since(at) < stopped {
				create(before+backlog, before+backlog+10)
				backlog += 10
				time.Sleep(time.Second)
			}
			down := time.Since(at)

			// Started again: scrape its lag until it has caught up.
			total := int64(before + backlog)
			c.startReplica("reporting", 0, nil)
			restarted := time.Now()
			var samples []lagSample
			for {
				s, err := scrapeLag(t.Context(), c.MetricsURL, "reporting", "demand")
				if err != nil {
					t.Fatal(err)
				}
				s.at = time.Since(restarted)
				samples = append(samples, s)
				if s.found && s.events == 0 && s.seconds == 0 && caughtUp(total) {
					// The headline may have waited for reporting's connection while the
					// consumer caught up: one more scrape, so the last sample follows it.
					if s, err = scrapeLag(t.Context(), c.MetricsURL, "reporting", "demand"); err != nil {
						t.Fatal(err)
					}
					s.at = time.Since(restarted)
					samples = append(samples, s)
					if s.found && s.events == 0 && s.seconds == 0 {
						break
					}
				}
				if s.at > 5*time.Minute {
					t.Fatalf("reporting has not caught up 5 minutes after its start: headline %v, lag %+v", headline(), s)
				}
				time.Sleep(50 * time.Millisecond)
			}
			caught := time.Since(restarted)
			c.checkRunning()

			// The backlog showed, then drained: once the consumer knew of it, it never grew.
			peak, peakAt := 0.0, 0
			for i, s := range samples {
				if s.events > peak {
					peak, peakAt = s.events, i
				}
			}
			// A batch consumer may take a short backlog in one batch before the first scrape:
			// then its cursor metric shows the backlog crossed at once.
			last := samples[len(samples)-1]
			if crossed := last.cursor - stoppedAt.cursor; peak == 0 && crossed < float64(backlog) {
				t.Errorf("the lag metric never showed the backlog of %d events, and the cursor moved only %v past %v: %+v",
					backlog, crossed, stoppedAt.cursor, samples)
			}
			for i := peakAt + 1; i < len(samples); i++ {
				if samples[i].events > samples[i-1].events {
					t.Errorf("events behind grew while catching up, %v then %v: %+v", samples[i-1].events, samples[i].events, samples)
					break
				}
			}
			// Still exact a while later: nothing applied twice on the way.
			time.Sleep(time.Second)
			if got := headline().GetDemands(); got != total {
				t.Errorf("headline after catching up: %d demands, want %d", got, total)
			}
			curve := ""
			for _, s := range samples {
				curve += fmt.Sprintf(" %v:%.0f", s.at.Round(10*time.Millisecond), s.events)
			}
			t.Logf("%s: reporting stopped %v with %d demands recorded meanwhile; caught up %v after its start; events behind (demand feed) peaked at %.0f, seconds behind at %.1f; %d scrapes:%s",
				b.Name, down.Round(time.Millisecond), backlog, caught.Round(time.Millisecond), peak, maxSeconds(samples), len(samples), curve)
		})
	}
}

// lagSample is one scrape of a consumer's lag.
type lagSample struct {
	at      time.Duration
	found   bool
	events  float64
	seconds float64
	cursor  float64 // the last event applied
}

func maxSeconds(samples []lagSample) float64 {
	m := 0.0
	for _, s := range samples {
		m = max(m, s.seconds)
	}
	return m
}

// scrapeLag reads the consumer's lag from the Prometheus page, as the alert and the dashboard
// read it: jiayuan_eventfeed_consumer_events_behind and _seconds_behind.
func scrapeLag(ctx context.Context, url, consumer, source string) (lagSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return lagSample{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return lagSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return lagSample{}, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return lagSample{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	var s lagSample
	read := func(family string) (float64, bool) {
		for _, m := range families[family].GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumer"] == consumer && labels["source"] == source {
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	var ok1, ok2 bool
	s.events, ok1 = read("jiayuan_eventfeed_consumer_events_behind")
	s.seconds, ok2 = read("jiayuan_eventfeed_consumer_seconds_behind")
	s.cursor, _ = read("jiayuan_eventfeed_consumer_cursor")
	s.found = ok1 && ok2
	return s, nil
}
