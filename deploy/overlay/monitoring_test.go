package overlay_test

import (
	"strings"
	"testing"
)

// TestBrokenMonitoring breaks the monitoring component of a copy of the tree in one way each;
// the check must fail naming the workload (see TestBrokenOverlays).
func TestBrokenMonitoring(t *testing.T) {
	type change struct{ file, old, new string }
	for _, tc := range []struct {
		name    string
		changes []change
		want    []string
	}{
		{
			name:    "a workload no PodMonitor selects",
			changes: []change{{"components/monitoring/podmonitor.yaml", "        values: [service, gateway]\n", "        values: [service]\n"}},
			want:    []string{"Deployment jiayuan-jiangnan/gateway: no PodMonitor scrapes its metrics"},
		},
		{
			name:    "an overlay without the monitoring component",
			changes: []change{{"overlays/qingxiu/kustomization.yaml", "  - ../../components/monitoring\n", ""}},
			want:    []string{"Deployment jiayuan-qingxiu/partner: no PodMonitor scrapes its metrics"},
		},
		{
			name:    "a PostgreSQL cluster nothing scrapes",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "  - ../../components/monitoring-cloudnative-pg\n", ""}},
			want:    []string{"Cluster jiayuan-jiangnan/jiayuan-pg: no PodMonitor scrapes its instances"},
		},
		{
			name:    "a scrape of a port no container declares",
			changes: []change{{"components/monitoring/podmonitor.yaml", "    - port: metrics\n", "    - port: metricz\n"}},
			want:    []string{`Deployment jiayuan-jiangnan/demand: PodMonitor jiayuan scrapes port "metricz", which no container declares`},
		},
		{
			name:    "a metrics port the binary does not serve on",
			changes: []change{{"components/monitoring/kustomization.yaml", "          containerPort: 9464\n", "          containerPort: 9465\n"}},
			want:    []string{`Deployment jiayuan-jiangnan/partner: metrics port "metrics" is 9465, but the binary serves its metrics on 9464 (--metrics-listen)`},
		},
		{
			name:    "a misspelt field of a rule",
			changes: []change{{"components/monitoring/prometheusrule.yaml", "        - alert: JiayuanSweepNotRun\n", "        - alert: JiayuanSweepNotRun\n          severty: critical\n"}},
			want:    []string{`PrometheusRule jiayuan-jiangnan/jiayuan`, `unknown field "severty"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case breaks its own copy
			root := copyTree(t)
			for _, c := range tc.changes {
				edit(t, root, c.file, c.old, c.new)
			}
			err := loadAll(t, root)
			if err == nil {
				t.Fatal("the broken tree passed the check")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}
