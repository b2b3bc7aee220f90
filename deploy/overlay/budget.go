package overlay

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// connectionHeadroom is kept free on every cluster besides PostgreSQL's own reserved
// connections: the operator's instance manager, monitoring and a DBA's psql.
const connectionHeadroom = 10

// connectionBudget checks each CloudNativePG cluster's max_connections against what the
// services connected to it may open at once: at their autoscalers' maximum plus the pod a
// rolling update adds, each pod PostgresPools pools of the pool size the binary will choose
// (JIAYUAN_DB_POOL_SIZE, else sqlstore.PoolSizeFor(GOMAXPROCS), and GOMAXPROCS follows the
// container's CPU limit as the Go runtime computes it).
func (c *checker) connectionBudget() {
	for _, cl := range c.clusters {
		params := map[string]string{}
		if cl.Spec.PostgreSQL != nil {
			params = cl.Spec.PostgreSQL.Parameters
		}
		maxConns := intParam(params, "max_connections", 100)
		reserved := intParam(params, "superuser_reserved_connections", 3) + intParam(params, "reserved_connections", 0) + connectionHeadroom
		total := reserved
		var parts []string
		for _, d := range c.deployments {
			if d.Namespace != cl.Namespace {
				continue
			}
			n, ok := c.connections(d, cl.Name)
			if !ok {
				continue
			}
			total += n
			parts = append(parts, fmt.Sprintf("%s %d", d.Name, n))
		}
		if total > maxConns {
			c.problem("Cluster %s/%s: max_connections %d is below the %d connections the services may open at their autoscalers' maximum (%s: (maxReplicas + maxSurge) × %d pools × pool size; %d reserved): raise max_connections, lower maxReplicas or set JIAYUAN_DB_POOL_SIZE",
				cl.Namespace, cl.Name, maxConns, total, strings.Join(parts, ", "), sqlstore.PostgresPools, reserved)
		}
	}
}

// maxConnectionsAnnotation on a Namespace states the max_connections of the PostgreSQL server
// a district's DBA runs, which the checks cannot see, so that the services' connections are
// budgeted against it as against a cloudnative-pg cluster's.
const maxConnectionsAnnotation = "jiayuan.io/postgresql-max-connections"

// externalBudget checks the connections of the services whose database is not a cluster of
// the overlay (a URL from a Secret: the DBA's server) against the namespace's annotation.
func (c *checker) externalBudget() {
	for _, ns := range c.namespaces {
		total, parts := 0, []string{}
		for _, d := range c.deployments {
			if d.Namespace != ns.Name {
				continue
			}
			if n, ok := c.connections(d, ""); ok {
				total += n
				parts = append(parts, fmt.Sprintf("%s %d", d.Name, n))
			}
		}
		if total == 0 {
			continue
		}
		v, ok := ns.Annotations[maxConnectionsAnnotation]
		maxConns, err := strconv.Atoi(v)
		if !ok || err != nil || maxConns <= 0 {
			c.problem("Namespace %s: annotation %s: state the max_connections of the DBA's PostgreSQL (SHOW max_connections), which the services' %d connections at their autoscalers' maximum must stay under (%s)",
				ns.Name, maxConnectionsAnnotation, total, strings.Join(parts, ", "))
			continue
		}
		reserved := 3 + connectionHeadroom
		if total+reserved > maxConns {
			c.problem("Namespace %s: the DBA's PostgreSQL takes %d connections (%s), below the %d the services may open at their autoscalers' maximum (%s; %d reserved): raise max_connections there, lower maxReplicas or set JIAYUAN_DB_POOL_SIZE",
				ns.Name, maxConns, maxConnectionsAnnotation, total+reserved, strings.Join(parts, ", "), reserved)
		}
	}
}

// connections is how many connections Deployment d's pods may hold to cluster at once; false
// when none of its serving containers connects to it. An empty cluster means a database that
// is no cluster of the overlay (a URL from a Secret).
func (c *checker) connections(d *appsv1.Deployment, cluster string) (int, bool) {
	perPod, found := 0, false
	for i := range d.Spec.Template.Spec.Containers {
		ctr := &d.Spec.Template.Spec.Containers[i]
		if m, err := modeFor(ctr.Args); err != nil || !m.Database || ctr.Args[0] != "serve" {
			continue
		}
		env := literalEnv(c.r, d.Namespace, ctr)
		u, err := url.Parse(env[config.EnvName("db-url")])
		if cluster == "" {
			if err == nil && c.clusterOf(d.Namespace, u.Hostname()) {
				continue
			}
		} else if err != nil || !strings.HasPrefix(u.Hostname(), cluster+"-r") {
			continue
		}
		found = true
		size, err := strconv.Atoi(env[config.EnvName("db-pool-size")])
		if err != nil || size <= 0 {
			size = sqlstore.PoolSizeFor(gomaxprocs(ctr, env))
		}
		perPod += sqlstore.PostgresPools * size
	}
	if !found {
		return 0, false
	}
	return perPod * c.maxPods(d), true
}

// maxPods is the most pods of d that run at once: its autoscaler's maximum (or its replicas)
// plus the surge of a rolling update.
func (c *checker) maxPods(d *appsv1.Deployment) int {
	pods := 1
	if d.Spec.Replicas != nil {
		pods = int(*d.Spec.Replicas)
	}
	for _, h := range c.hpas {
		if h.Namespace == d.Namespace && h.Spec.ScaleTargetRef.Name == d.Name {
			pods = int(h.Spec.MaxReplicas)
		}
	}
	surge := intstr.FromString("25%") // Kubernetes' default
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
		surge = *ru.MaxSurge
	}
	s, err := intstr.GetScaledValueFromIntOrPercent(&surge, pods, true)
	if err != nil {
		s = pods
	}
	return pods + s
}

// gomaxprocs is the GOMAXPROCS the container's process runs with: the variable when set, else
// its CPU limit rounded up and at least 2, as the Go runtime (1.25 and later) derives it from
// the cgroup. The node may have fewer cores; this is the bound.
func gomaxprocs(ctr *corev1.Container, env map[string]string) int {
	if n, err := strconv.Atoi(env["GOMAXPROCS"]); err == nil && n > 0 {
		return n
	}
	if strings.Contains(env["GODEBUG"], "containermaxprocs=0") {
		return 64 // the runtime told to ignore the limit: the node's cores, unbounded here
	}
	lim, ok := ctr.Resources.Limits[corev1.ResourceCPU]
	if !ok {
		return 64 // no limit: the node's cores, unbounded here; the resources check reports it
	}
	return max(2, int(math.Ceil(float64(lim.MilliValue())/1000)))
}

func intParam(params map[string]string, name string, def int) int {
	if n, err := strconv.Atoi(params[name]); err == nil {
		return n
	}
	return def
}

// clusterOf reports whether host is one of the services of a cloudnative-pg cluster of the
// overlay in ns (<cluster>-rw, -ro, -r).
func (c *checker) clusterOf(ns, host string) bool {
	for _, cl := range c.clusters {
		if cl.Namespace == ns && strings.HasPrefix(host, cl.Name+"-r") {
			return true
		}
	}
	return false
}
