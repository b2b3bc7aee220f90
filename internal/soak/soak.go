// Package soak runs the real `jiayuan dev` binary for a long time at a city's peak of mixed
// calls over REST, and samples its resident memory and goroutines as it goes: leaks that a
// test of seconds never shows (a goroutine per stream left behind, a cache that only grows)
// show as a curve that keeps rising. `make chaos-soak` runs it for 30 minutes; `make test`
// runs a smoke of seconds (soak_test.go).
package soak

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jiayuan/jiayuan/internal/demo"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// Config says what to run and for how long.
type Config struct {
	// Binary is the jiayuan binary to run (`jiayuan dev`).
	Binary string
	// Duration of the load, after the suite is ready.
	Duration time.Duration
	// Rate is the calls a second, spread over the mix (Mix).
	Rate int
	// Every is the sampling interval of memory and goroutines.
	Every time.Duration
	// Dir holds the data directory and the binary's log.
	Dir string
	// Out receives the curve, a line per sample, as it is taken.
	Out io.Writer
}

// Sample is the process's state at one moment of the run.
type Sample struct {
	At         time.Duration
	RSS        int64 // bytes, /proc/<pid>/status VmRSS
	Heap       int64 // bytes, go_memstats_heap_inuse_bytes
	Goroutines int64 // go_goroutines
	Calls      int64 // calls ended so far
	Failed     int64
}

// Result is a run's curve and its calls.
type Result struct {
	Samples []Sample
	Calls   int64
	Failed  int64
	// Behind counts calls the schedule could not start because every worker was busy: the
	// suite served less than Rate.
	Behind int64
	// Errors are the first failures, as "op: status body".
	Errors []string
	// ByOp counts the calls of each kind.
	ByOp map[string]int64
	// Elapsed is how long the load ran.
	Elapsed time.Duration
	// Latency is each kind of call's latency in the first and the last third of the run.
	Latency []OpLatency
}

// OpLatency is one kind of call's latency at the start of a run and at its end: a call that
// slows as the data grows shows here before it shows in memory or goroutines.
type OpLatency struct {
	Op                    string
	FirstP50, FirstP99    time.Duration
	LastP50, LastP99      time.Duration
	FirstCalls, LastCalls int
}

// call is one call's start (since the load began) and duration.
type call struct{ at, took time.Duration }

// latencies records every call's latency by kind.
type latencies struct {
	mu   sync.Mutex
	byOp [][]call
}

func (l *latencies) add(op int, at, took time.Duration) {
	l.mu.Lock()
	l.byOp[op] = append(l.byOp[op], call{at, took})
	l.mu.Unlock()
}

// thirds reports each kind's p50 and p99 over the calls begun in the first and the last
// third of a run of length elapsed.
func (l *latencies) thirds(ops []op, elapsed time.Duration) []OpLatency {
	l.mu.Lock()
	defer l.mu.Unlock()
	pct := func(ds []time.Duration, p int) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		return ds[(len(ds)-1)*p/100]
	}
	out := make([]OpLatency, len(ops))
	for i, o := range ops {
		var first, last []time.Duration
		for _, c := range l.byOp[i] {
			switch {
			case c.at < elapsed/3:
				first = append(first, c.took)
			case c.at >= 2*elapsed/3:
				last = append(last, c.took)
			}
		}
		slices.Sort(first)
		slices.Sort(last)
		out[i] = OpLatency{Op: o.name, FirstP50: pct(first, 50), FirstP99: pct(first, 99), LastP50: pct(last, 50), LastP99: pct(last, 99),
			FirstCalls: len(first), LastCalls: len(last)}
	}
	return out
}

// op is one kind of call a city's users make, with its share of the mix.
type op struct {
	name   string
	weight int
	do     func(ctx context.Context, d *driver) error
}

// mix is a city's peak: mostly reads by officials and residents, one call in ten a write
// (residents filing problems online). Weights are out of 20.
func mix() []op {
	return []op{
		{"resident files a problem", 2, func(ctx context.Context, d *driver) error { return d.fileProblem(ctx) }},
		{"resident lists their demands", 3, func(ctx context.Context, d *driver) error {
			return d.get(ctx, d.resident(), "/v1/demands?pageSize=10")
		}},
		{"staff count the needs list", 2, func(ctx context.Context, d *driver) error {
			return d.get(ctx, d.tokens[auth.RoleCommunityStaff], "/v1/demands:count?regionCode="+demo.Erqiaoxi)
		}},
		{"staff search partners", 3, func(ctx context.Context, d *driver) error {
			return d.post(ctx, d.tokens[auth.RoleCommunityStaff], "/v1/partners:search",
				`{"categories":["CATEGORY_CHILDCARE"],"regionCode":"`+demo.Erqiaoxi+`","window":{"weekday":"WEEKDAY_WEDNESDAY","startTime":"15:00","endTime":"18:00"}}`, nil)
		}},
		{"staff read the grids", 2, func(ctx context.Context, d *driver) error {
			return d.get(ctx, d.tokens[auth.RoleCommunityStaff], "/v1/regions?parent=regions/"+demo.Erqiaoxi)
		}},
		{"staff list demands", 3, func(ctx context.Context, d *driver) error {
			return d.get(ctx, d.tokens[auth.RoleCommunityStaff], "/v1/demands?pageSize=20")
		}},
		{"grid worker reads a demand", 2, func(ctx context.Context, d *driver) error {
			name := d.recentDemand()
			if name == "" { // none filed yet: the listing instead
				return d.get(ctx, d.tokens[auth.RoleCommunityStaff], "/v1/demands?pageSize=1")
			}
			return d.get(ctx, d.tokens[auth.RoleCommunityStaff], "/v1/"+name)
		}},
		{"street officer reads the board", 2, func(ctx context.Context, d *driver) error {
			return d.get(ctx, d.tokens[auth.RoleStreetOfficer], "/v1/cases:board?regionCode="+demo.Jiangnan)
		}},
		{"district officer reads the headline", 1, func(ctx context.Context, d *driver) error {
			to := time.Now().In(chinaTime)
			return d.get(ctx, d.tokens[auth.RoleDistrictOfficer], "/v1/reports/headline?regionCode="+demo.District+
				"&period.startDate="+to.AddDate(0, -1, 0).Format(time.DateOnly)+"&period.endDate="+to.Format(time.DateOnly))
		}},
	}
}

var chinaTime = time.FixedZone("CST", 8*3600)

// residents is how many distinct residents file and read: each stays well under the
// production limit of 5 calls a second per resident, as real ones do.
const residents = 200

// driver holds what the calls need: the gateway, tokens, the demands filed so far.
type driver struct {
	base      string
	client    *http.Client
	tokens    map[auth.Role]string
	residents []string

	mu     sync.Mutex
	recent []string // the last demands filed, a ring
	next   int
}

func (d *driver) resident() string { return d.residents[rand.IntN(len(d.residents))] }

func (d *driver) recentDemand() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.recent) == 0 {
		return ""
	}
	return d.recent[rand.IntN(len(d.recent))]
}

func (d *driver) remember(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.recent) < 256 {
		d.recent = append(d.recent, name)
		return
	}
	d.recent[d.next] = name
	d.next = (d.next + 1) % len(d.recent)
}

func (d *driver) fileProblem(ctx context.Context) error {
	n := rand.IntN(1000)
	body := fmt.Sprintf(`{"kind":"DEMAND_KIND_PROBLEM","category":"CATEGORY_PROPERTY_HOUSING","title":"楼道灯坏了 %d","description":"%d栋三楼楼道灯不亮，晚上看不清台阶。",`+
		`"communityCode":"%s","address":"二桥西社区 %d栋","householdsAffected":1,"channel":"CHANNEL_ONLINE","reporter":{"name":"黄小明","phone":"13807719999"}}`,
		n, n%40+1, demo.Erqiaoxi, n%40+1)
	var out struct {
		Name string `json:"name"`
	}
	if err := d.post(ctx, d.resident(), "/v1/demands", body, &out); err != nil {
		return err
	}
	if !strings.HasPrefix(out.Name, "demands/") {
		return fmt.Errorf("the created demand has no name: %q", out.Name)
	}
	d.remember(out.Name)
	return nil
}

func (d *driver) get(ctx context.Context, token, path string) error {
	return d.call(ctx, http.MethodGet, token, path, "", nil)
}

func (d *driver) post(ctx context.Context, token, path, body string, out any) error {
	return d.call(ctx, http.MethodPost, token, path, body, out)
}

// call makes one REST call; anything but 200 is a failure, 429 included (the callers stay
// within the production limits, so a refusal means the limits or the suite misbehave).
func (d *driver) call(ctx context.Context, method, token, path, body string, out any) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data[:min(len(data), 300)]))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Run starts `jiayuan dev` from cfg.Binary on free ports, drives the mix at cfg.Rate for
// cfg.Duration, samples every cfg.Every, and stops it. An error means the run itself could
// not be made (the binary did not start); failed calls and the curve are in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Every <= 0 {
		return nil, errors.New("soak: rate, duration and sampling interval must be positive")
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	p, err := start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer p.stop()

	d := &driver{
		base: p.gateway,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute,
		}},
		tokens: map[auth.Role]string{},
	}
	defer d.client.CloseIdleConnections()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(p.dataDir, "dev-signing-key.pem"))
	if err != nil {
		return nil, err
	}
	ttl := cfg.Duration + time.Hour
	for _, r := range []struct {
		role  auth.Role
		scope string
	}{
		{auth.RoleCommunityStaff, demo.Erqiaoxi}, {auth.RoleStreetOfficer, demo.Jiangnan}, {auth.RoleDistrictOfficer, demo.District},
	} {
		tok, err := signer.Token(auth.Principal{Subject: "soak-" + string(r.role), Name: "soak", Roles: []auth.Role{r.role}, Scope: []string{r.scope}}, ttl)
		if err != nil {
			return nil, err
		}
		d.tokens[r.role] = tok
	}
	for i := range residents {
		tok, err := signer.Token(auth.Principal{Subject: fmt.Sprintf("soak-resident-%03d", i), Name: "二桥西居民", Roles: []auth.Role{auth.RoleResident}, Scope: []string{demo.Erqiaoxi}}, ttl)
		if err != nil {
			return nil, err
		}
		d.residents = append(d.residents, tok)
	}

	ops := mix()
	var table []int // op index per weight unit
	for i, o := range ops {
		for range o.weight {
			table = append(table, i)
		}
	}
	res := &Result{ByOp: map[string]int64{}}
	var (
		calls, failed, behind atomic.Int64
		byOp                  = make([]atomic.Int64, len(ops))
		errMu                 sync.Mutex
		work                  = make(chan int, 64)
		wg                    sync.WaitGroup
	)
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	lat := &latencies{byOp: make([][]call, len(ops))}
	begin := time.Now()
	// Enough workers for the rate at a few hundred milliseconds a call.
	workers := max(16, cfg.Rate/4)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t0 := time.Now()
				err := ops[i].do(loadCtx, d)
				lat.add(i, t0.Sub(begin), time.Since(t0))
				calls.Add(1)
				byOp[i].Add(1)
				if err != nil && loadCtx.Err() == nil {
					failed.Add(1)
					errMu.Lock()
					if len(res.Errors) < 10 {
						res.Errors = append(res.Errors, ops[i].name+": "+err.Error())
					}
					errMu.Unlock()
				}
			}
		}()
	}

	sample := func() {
		s := Sample{At: time.Since(begin).Round(time.Second), Calls: calls.Load(), Failed: failed.Load()}
		var err error
		s.RSS, err = rss(p.cmd.Process.Pid)
		if err != nil {
			fmt.Fprintf(cfg.Out, "soak: RSS: %v\n", err)
		}
		s.Goroutines, s.Heap, err = scrape(ctx, d.client, p.metrics)
		if err != nil {
			fmt.Fprintf(cfg.Out, "soak: metrics: %v\n", err)
		}
		res.Samples = append(res.Samples, s)
		fmt.Fprintf(cfg.Out, "soak %6s  rss %7.1f MiB  heap %7.1f MiB  goroutines %5d  calls %8d  failed %d\n",
			s.At, mib(s.RSS), mib(s.Heap), s.Goroutines, s.Calls, s.Failed)
	}
	sample()
	// The schedule is by the clock: each tick starts the calls owed since the start, so a
	// late tick (a loaded machine) does not lower the rate.
	tick := time.NewTicker(10 * time.Millisecond)
	every := time.NewTicker(cfg.Every)
	end := time.After(cfg.Duration)
	var started int64
loop:
	for {
		select {
		case <-tick.C:
			for owed := int64(time.Since(begin).Seconds()*float64(cfg.Rate)) - started; owed > 0; owed-- {
				started++
				select {
				case work <- table[rand.IntN(len(table))]:
				default:
					behind.Add(1)
				}
			}
		case <-every.C:
			sample()
		case <-end:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	tick.Stop()
	every.Stop()
	close(work)
	wg.Wait()
	res.Elapsed = time.Since(begin)
	sample()
	res.Latency = lat.thirds(ops, res.Elapsed)
	if err := p.exited(); err != nil {
		return res, err
	}
	res.Calls, res.Failed, res.Behind = calls.Load(), failed.Load(), behind.Load()
	for i, o := range ops {
		res.ByOp[o.name] = byOp[i].Load()
	}
	return res, ctx.Err()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// Trend compares the mean of the last third of the samples with the middle third's (the first
// third is the warm-up: caches filling, the heap finding its size) and reports a growth of
// resident memory above rssPct percent, or of goroutines above goroutinePct percent and 20.
func (r *Result) Trend(rssPct, goroutinePct float64) error {
	n := len(r.Samples)
	if n < 6 {
		return fmt.Errorf("%d samples: too few to see a trend (run longer or sample more often)", n)
	}
	mid, last := r.Samples[n/3:2*n/3], r.Samples[2*n/3:]
	mean := func(s []Sample, f func(Sample) int64) float64 {
		var t float64
		for _, x := range s {
			t += float64(f(x))
		}
		return t / float64(len(s))
	}
	var errs []error
	rm, rl := mean(mid, func(s Sample) int64 { return s.RSS }), mean(last, func(s Sample) int64 { return s.RSS })
	if rl > rm*(1+rssPct/100) {
		errs = append(errs, fmt.Errorf("resident memory grows: last third's mean %.1f MiB, middle third's %.1f MiB (+%.1f%%, at most %.0f%%)",
			mib(int64(rl)), mib(int64(rm)), (rl/rm-1)*100, rssPct))
	}
	gm, gl := mean(mid, func(s Sample) int64 { return s.Goroutines }), mean(last, func(s Sample) int64 { return s.Goroutines })
	if gl > gm*(1+goroutinePct/100) && gl-gm > 20 {
		errs = append(errs, fmt.Errorf("goroutines grow: last third's mean %.0f, middle third's %.0f (+%.1f%%, at most %.0f%%)",
			gl, gm, (gl/gm-1)*100, goroutinePct))
	}
	return errors.Join(errs...)
}

// process is the running `jiayuan dev`.
type process struct {
	cmd      *exec.Cmd
	dataDir  string
	gateway  string // http://127.0.0.1:port
	metrics  string // http://…/metrics
	logPath  string
	done     chan struct{}
	waitErr  error
	stopping atomic.Bool
}

// start runs the binary on free ports and waits until the gateway says every service serves.
func start(ctx context.Context, cfg Config) (*process, error) {
	offset, httpPort, err := freePorts()
	if err != nil {
		return nil, err
	}
	p := &process{dataDir: filepath.Join(cfg.Dir, "data"), logPath: filepath.Join(cfg.Dir, "jiayuan-dev.log"), done: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(cfg.Binary, "dev", "--data-dir", p.dataDir, "--host", "127.0.0.1",
		"--port-offset", strconv.Itoa(offset), "--http-port", strconv.Itoa(httpPort), "--log-level", "warn")
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", cfg.Binary, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	p.gateway = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	p.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", 9464+offset)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("jiayuan dev exited before it was ready (%v):\n%s", p.waitErr, p.logTail())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := os.Stat(filepath.Join(p.dataDir, "tokens.env")); err == nil && healthy(ctx, p.gateway) {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("jiayuan dev not ready after 3 minutes:\n%s", p.logTail())
		}
	}
}

func healthy(ctx context.Context, gateway string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, gateway+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// exited reports the process ending before it was asked to.
func (p *process) exited() error {
	select {
	case <-p.done:
		if !p.stopping.Load() {
			return fmt.Errorf("jiayuan dev exited during the run (%v):\n%s", p.waitErr, p.logTail())
		}
	default:
	}
	return nil
}

// stop ends the process as Ctrl-C does, and kills it if it has not stopped within 30 s.
func (p *process) stop() {
	p.stopping.Store(true)
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) logTail() string {
	data, _ := os.ReadFile(p.logPath)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// freePorts finds a --port-offset whose ports (the services' 9101…, the metrics' 9464) are
// free, and a free port for the gateway.
func freePorts() (offset, httpPort int, err error) {
	free := func(port int) bool {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	for range 50 {
		off := 20000 + rand.IntN(20000)
		ok := free(9464 + off)
		for p := 9100; ok && p <= 9110; p++ {
			ok = free(p + off)
		}
		if !ok {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		httpPort = l.Addr().(*net.TCPAddr).Port
		l.Close()
		return off, httpPort, nil
	}
	return 0, 0, errors.New("no free ports for jiayuan dev")
}

// rss reads a process's resident set size from /proc.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// scrape reads the Go runtime's goroutines and heap in use from the Prometheus page.
func scrape(ctx context.Context, c *http.Client, url string) (goroutines, heap int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "go_goroutines":
			dst = &goroutines
		case "go_memstats_heap_inuse_bytes":
			dst = &heap
		default:
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
		*dst = int64(f)
		found++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if found < 2 {
		return goroutines, heap, errors.New("go_goroutines or go_memstats_heap_inuse_bytes missing from the metrics page")
	}
	return goroutines, heap, nil
}
