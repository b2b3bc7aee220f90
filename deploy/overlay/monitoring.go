package overlay

import (
	"fmt"
	"net"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/jiayuan/jiayuan/internal/cli"
	"github.com/jiayuan/jiayuan/platform/config"
)

// PodMonitor is a Prometheus Operator scrape of pods (monitoring.coreos.com/v1), reduced to
// the fields the monitoring component sets.
type PodMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              PodMonitorSpec `json:"spec"`
}

// PodMonitorSpec selects the pods and says where their metrics are.
type PodMonitorSpec struct {
	Selector            metav1.LabelSelector `json:"selector"`
	PodMetricsEndpoints []PodMetricsEndpoint `json:"podMetricsEndpoints"`
}

// PodMetricsEndpoint is one port scraped on each selected pod.
type PodMetricsEndpoint struct {
	// Port names a container port of the pod.
	Port          string          `json:"port"`
	Path          string          `json:"path,omitempty"`
	Interval      string          `json:"interval,omitempty"`
	ScrapeTimeout string          `json:"scrapeTimeout,omitempty"`
	Relabelings   []RelabelConfig `json:"relabelings,omitempty"`
}

// RelabelConfig rewrites a target's labels before the scrape.
type RelabelConfig struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// PrometheusRule holds alerting and recording rules (monitoring.coreos.com/v1). Their PromQL
// is checked against the binary's metrics by internal/monitoring.
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              PrometheusRuleSpec `json:"spec"`
}

// PrometheusRuleSpec is a list of rule groups.
type PrometheusRuleSpec struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is rules evaluated together.
type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is an alert or a recorded series.
type Rule struct {
	Record      string            `json:"record,omitempty"`
	Alert       string            `json:"alert,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// monitored reports the kinds of jiayuan workloads: every service and the gateway.
func monitored(d *appsv1.Deployment) bool {
	c := d.Spec.Template.Labels["app.kubernetes.io/component"]
	return c == "service" || c == "gateway"
}

// monitoring checks that every jiayuan workload, in every overlay, is scraped (the
// monitoring component): a PodMonitor selects its pods, on a container port that
// is where the binary serves its metrics (--metrics-listen, by default).
func (c *checker) monitoring() {
	for _, pm := range c.podMonitors {
		if len(pm.Spec.PodMetricsEndpoints) == 0 {
			c.problem("PodMonitor %s/%s: no podMetricsEndpoints", pm.Namespace, pm.Name)
		}
		for _, r := range pm.Spec.PodMetricsEndpoints {
			for _, rl := range r.Relabelings {
				if rl.TargetLabel == "job" || rl.TargetLabel == "service_name" || rl.TargetLabel == "jiayuan_service" {
					c.problem("PodMonitor %s/%s: relabels %s, which the rules and the dashboard read from the binary", pm.Namespace, pm.Name, rl.TargetLabel)
				}
			}
		}
	}
	_, portText, err := net.SplitHostPort(cli.DefaultMetricsListen)
	if err != nil {
		c.problem("the binary's --metrics-listen default %q: %v", cli.DefaultMetricsListen, err)
		return
	}
	want, _ := strconv.Atoi(portText)
	for _, d := range c.deployments {
		if !monitored(d) {
			continue
		}
		where := fmt.Sprintf("Deployment %s/%s", d.Namespace, d.Name)
		scraped := false
		for _, pm := range c.podMonitors {
			if pm.Namespace != d.Namespace {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
			if err != nil {
				c.problem("PodMonitor %s/%s: selector: %v", pm.Namespace, pm.Name, err)
				continue
			}
			if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				continue
			}
			for _, ep := range pm.Spec.PodMetricsEndpoints {
				p, ok := containerPort(d.Spec.Template.Spec.Containers, ep.Port)
				switch {
				case !ok:
					c.problem("%s: PodMonitor %s scrapes port %q, which no container declares", where, pm.Name, ep.Port)
				case int(p.ContainerPort) != metricsPort(d, want):
					c.problem("%s: metrics port %q is %d, but the binary serves its metrics on %d (--metrics-listen)", where, ep.Port, p.ContainerPort, metricsPort(d, want))
				default:
					scraped = true
				}
			}
		}
		if !scraped {
			c.problem("%s: no PodMonitor scrapes its metrics (deploy/k8s/components/monitoring)", where)
		}
	}
	// The replication lag alert reads the PostgreSQL instances' own metrics.
	for _, cl := range c.clusters {
		scraped := false
		for _, pm := range c.podMonitors {
			sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
			scraped = scraped || (err == nil && pm.Namespace == cl.Namespace && sel.Matches(labels.Set{"cnpg.io/cluster": cl.Name}))
		}
		if !scraped {
			c.problem("Cluster %s/%s: no PodMonitor scrapes its instances (deploy/k8s/components/monitoring-cloudnative-pg)", cl.Namespace, cl.Name)
		}
	}
}

// metricsPort is the port d's binary serves its metrics on: the one its container's
// JIAYUAN_METRICS_LISTEN sets, or def.
func metricsPort(d *appsv1.Deployment, def int) int {
	for _, ctr := range d.Spec.Template.Spec.Containers {
		for _, e := range ctr.Env {
			if e.Name != config.EnvName("metrics-listen") || e.Value == "" {
				continue
			}
			if _, p, err := net.SplitHostPort(e.Value); err == nil {
				if n, err := strconv.Atoi(p); err == nil {
					return n
				}
			}
		}
	}
	return def
}
