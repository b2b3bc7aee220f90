package monitoring

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// component is the monitoring component, from this package's directory.
var component = filepath.Join("..", "..", "deploy", "k8s", "components", "monitoring")

// external are the metrics the rules and the dashboard read from exporters that are not the
// jiayuan binary, each with the exporter that makes it.
var external = map[string]string{
	"certmanager_certificate_expiration_timestamp_seconds": "cert-manager's controller",
	"cnpg_pg_replication_lag":                              "CloudNativePG's instance exporter (default monitoring queries)",
}

// expression is one PromQL expression and where it is.
type expression struct{ where, expr string }

// ruleFile is the part of a PrometheusRule this test reads.
type ruleFile struct {
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Record string `json:"record"`
				Alert  string `json:"alert"`
				Expr   string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// rules returns the alert and recording rules' expressions, the alerts' names and the
// recorded series' names.
func rules(t *testing.T) (exprs []expression, alerts, recorded []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(component, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	// Only the fields above are read; the deploy checks decode the whole object strictly.
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Spec.Groups {
		for _, r := range g.Rules {
			name := r.Alert
			if r.Record != "" {
				name = r.Record
				recorded = append(recorded, r.Record)
			} else {
				alerts = append(alerts, r.Alert)
			}
			exprs = append(exprs, expression{where: "prometheusrule.yaml " + g.Name + "/" + name, expr: r.Expr})
		}
	}
	if len(alerts) == 0 {
		t.Fatal("no alerts in prometheusrule.yaml")
	}
	return exprs, alerts, recorded
}

// labelValues is Grafana's label_values(selector, label), whose selector is PromQL.
var labelValues = regexp.MustCompile(`^label_values\((.*),\s*[a-zA-Z_]+\)$`)

// dashboard returns every expression of the dashboard: the panels' queries and the
// variables' selectors.
func dashboard(t *testing.T) []expression {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(component, "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	var out []expression
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, expression{where: "dashboard.json panel " + p.Title, expr: tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		q, ok := v.Query.(map[string]any)
		if !ok {
			continue
		}
		s, _ := q["query"].(string)
		if m := labelValues.FindStringSubmatch(s); m != nil {
			out = append(out, expression{where: "dashboard.json variable " + v.Name, expr: m[1]})
		}
	}
	if len(out) == 0 {
		t.Fatal("no expressions in dashboard.json")
	}
	return out
}

// names parses expr and returns the metric names it selects.
func names(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					name = m.Value
				}
			}
			out = append(out, name)
		}
		return nil
	})
	return out, nil
}

// TestExpressionsParse: every expression of the rules and the dashboard is valid PromQL.
func TestExpressionsParse(t *testing.T) {
	exprs, _, _ := rules(t)
	for _, e := range append(exprs, dashboard(t)...) {
		if _, err := names(e.expr); err != nil {
			t.Errorf("%s: %v\n%s", e.where, err, e.expr)
		}
	}
}

// TestAlertsHaveARunbook: each alert has its entry in docs/deploy.md, which its runbook_url
// links to.
func TestAlertsHaveARunbook(t *testing.T) {
	_, alerts, _ := rules(t)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if !strings.Contains(string(doc), "#### "+a+"\n") {
			t.Errorf("alert %s has no entry (a heading \"#### %s\") in docs/deploy.md", a, a)
		}
	}
}

// TestExpressionsNameExportedMetrics starts the suite in this process as `jiayuan dev` does,
// with its Prometheus page, makes it do a little of everything, scrapes it, and checks that
// every metric the rules and the dashboard name is on the page (or is a recorded series, or
// an outside exporter's listed in external).
func TestExpressionsNameExportedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole suite")
	}
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"} {
		t.Setenv(k, "")
	}
	exprs, _, recorded := rules(t)
	exprs = append(exprs, dashboard(t)...)
	want := map[string][]string{} // metric → where it is used
	for _, e := range exprs {
		ns, err := names(e.expr)
		if err != nil {
			t.Fatalf("%s: %v", e.where, err)
		}
		for _, n := range ns {
			if _, ok := external[n]; ok || slices.Contains(recorded, n) {
				continue
			}
			want[n] = append(want[n], e.where)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	providers, shutdown, err := telemetry.Setup(ctx, "jiayuan-dev", telemetry.WithPrometheus())
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan *suite.Dev, 1)
	done := make(chan error, 1)
	var banner strings.Builder // written before Ready is called
	go func() {
		done <- suite.RunDev(ctx, suite.DevConfig{
			DataDir: t.TempDir(), Host: "127.0.0.1", EphemeralPorts: true, Tree: region.Demo(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Seed: true, TokenTTL: time.Hour,
			Telemetry: &providers, Out: &banner, Ready: func(d *suite.Dev) { ready <- d },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunDev: %v", err)
		}
		_ = shutdown(context.Background())
	})
	var dev *suite.Dev
	select {
	case dev = <-ready:
	case err := <-done:
		t.Fatalf("RunDev ended before it was ready: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("suite not ready after 90s")
	}
	if dev.MetricsURL == "" {
		t.Fatal("the suite serves no metrics page")
	}
	if !strings.Contains(banner.String(), dev.MetricsURL) {
		t.Errorf("the banner does not say where the metrics are (%s):\n%s", dev.MetricsURL, banner.String())
	}
	// Through the gateway, for its HTTP metrics (the seed called the services directly).
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, dev.GatewayURL+"/v1/demands", nil)
	req.Header.Set("Authorization", "Bearer "+dev.Tokens[auth.RoleAdmin])
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		_ = resp.Body.Close()
	}

	// Some series appear only once their work has run (a sweep, a consumer's first batch):
	// scrape until every wanted name is there, or give up and name the missing ones.
	var missing []string
	for deadline := time.Now().Add(60 * time.Second); ; {
		page := scrape(t, dev.MetricsURL)
		missing = missing[:0]
		for n := range want {
			if !page[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	slices.Sort(missing)
	for _, n := range missing {
		t.Errorf("%s is not exported by the binary (nor listed as external); used in:\n\t%s", n, strings.Join(want[n], "\n\t"))
	}
}

// scrape reads the page at url and returns the names of the series on it.
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	out := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			out[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
