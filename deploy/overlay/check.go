package overlay

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Options are what a check needs besides the rendered objects.
type Options struct {
	// SecretsDir holds NAME.example.env for every Secret a district creates by hand (those no
	// operator makes), listing its keys (deploy/k8s/secrets).
	SecretsDir string
	// ClusterIssuers are the cert-manager ClusterIssuers the cluster provides
	// (deploy/k8s/cluster/internal-ca).
	ClusterIssuers []string
	// TrustBundles are the ConfigMaps trust-manager writes into every namespace (the
	// cluster's Bundles, deploy/k8s/cluster/internal-ca): name → key.
	TrustBundles map[string]string
}

// clusterScoped kinds have no namespace.
var clusterScoped = map[string]bool{"Namespace": true, "ClusterIssuer": true, "ClusterRole": true, "ClusterRoleBinding": true, "Bundle": true}

// checker accumulates the problems of one rendered overlay.
type checker struct {
	r        *Rendered
	opts     Options
	problems []error

	configMaps  map[string]*corev1.ConfigMap // "namespace/name"
	namespaces  map[string]*corev1.Namespace
	deployments []*appsv1.Deployment
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
	services    []*corev1.Service
	ingresses   []*networkingv1.Ingress
	policies    []*networkingv1.NetworkPolicy
	clusters    map[string]*Cluster // "namespace/name"
	databases   []*Database
	backups     []*ScheduledBackup
	stores      map[string]*ObjectStore
	certs       []*Certificate
	issuers     map[string]*Issuer // "namespace/name" for Issuers, "/name" for ClusterIssuers

	// podMonitors are the monitoring component's scrapes (monitoring.go).
	podMonitors []*PodMonitor

	// made are the Secrets operators create in the namespace, with their keys: cert-manager's
	// from Certificates, CloudNativePG's from Clusters.
	made map[string][]string
	// documented caches the hand-made Secrets' example files: name → keys (nil if none).
	documented map[string][]string
	// checkedDistrict records which district ConfigMaps were checked, so each is checked once.
	checkedDistrict map[string]bool
}

func key(ns, name string) string { return ns + "/" + name }

func (c *checker) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Errorf(format, args...))
}

// Check reports every problem of the rendered overlay together; nil means none. Checks that
// need several overlays at once (addresses across namespaces, network reachability) are in
// CheckAll.
func (r *Rendered) Check(opts Options) error {
	return errors.Join(r.check(opts).problems...)
}

// HandMadeSecrets lists the Secrets the overlay references that no operator makes, which the
// district creates by hand from the example files in opts.SecretsDir.
func (r *Rendered) HandMadeSecrets(opts Options) []string {
	var out []string
	for name, keys := range r.check(opts).documented {
		if keys != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (r *Rendered) check(opts Options) *checker {
	c := r.newChecker(opts)
	c.placeholders()
	c.images()
	c.namespacesAndDefaultDeny()
	for _, d := range c.deployments {
		c.deployment(d)
	}
	c.autoscalers()
	c.disruptionBudgets()
	c.servicesAndIngresses()
	c.policySelectors()
	c.egressDestinations()
	c.quotas()
	c.postgres()
	c.connectionBudget()
	c.externalBudget()
	c.certificates()
	c.servicesRun()
	c.monitoring()
	return c
}

func (r *Rendered) newChecker(opts Options) *checker {
	c := &checker{
		r: r, opts: opts,
		configMaps: map[string]*corev1.ConfigMap{}, namespaces: map[string]*corev1.Namespace{},
		clusters: map[string]*Cluster{}, stores: map[string]*ObjectStore{}, issuers: map[string]*Issuer{},
		made: map[string][]string{}, documented: map[string][]string{}, checkedDistrict: map[string]bool{},
	}
	for _, o := range r.Objects {
		if !clusterScoped[o.Kind] && o.Namespace == "" {
			c.problem("%s: no namespace (the overlay sets one with `namespace:`)", o)
		}
		switch v := o.Value.(type) {
		case *corev1.ConfigMap:
			c.configMaps[key(v.Namespace, v.Name)] = v
		case *corev1.Namespace:
			c.namespaces[v.Name] = v
		case *appsv1.Deployment:
			c.deployments = append(c.deployments, v)
		case *autoscalingv2.HorizontalPodAutoscaler:
			c.hpas = append(c.hpas, v)
		case *policyv1.PodDisruptionBudget:
			c.pdbs = append(c.pdbs, v)
		case *corev1.Service:
			c.services = append(c.services, v)
		case *networkingv1.Ingress:
			c.ingresses = append(c.ingresses, v)
		case *networkingv1.NetworkPolicy:
			c.policies = append(c.policies, v)
		case *corev1.ServiceAccount:
		case *corev1.ResourceQuota, *corev1.LimitRange: // quotas()
		case *corev1.Secret:
			c.problem("%s: Secrets are never committed: create it in the cluster (docs/deploy.md, \"Secrets\")", o)
		case *Cluster:
			c.clusters[key(v.Namespace, v.Name)] = v
			// CloudNativePG makes these for every cluster: its CA and the server's and the
			// replication user's certificates.
			c.made[key(v.Namespace, v.Name+"-ca")] = []string{"ca.crt", "ca.key"}
			c.made[key(v.Namespace, v.Name+"-server")] = []string{"tls.crt", "tls.key"}
			c.made[key(v.Namespace, v.Name+"-replication")] = []string{"tls.crt", "tls.key"}
		case *Database:
			c.databases = append(c.databases, v)
		case *ScheduledBackup:
			c.backups = append(c.backups, v)
		case *ObjectStore:
			c.stores[key(v.Namespace, v.Name)] = v
		case *Certificate:
			c.certs = append(c.certs, v)
			c.made[key(v.Namespace, v.Spec.SecretName)] = []string{"tls.crt", "tls.key", "ca.crt"}
		case *Issuer:
			if o.Kind == "ClusterIssuer" {
				c.issuers["/"+v.Name] = v
			} else {
				c.issuers[key(v.Namespace, v.Name)] = v
			}
		case *Bundle:
			c.problem("%s: a trust bundle is the cluster's (deploy/k8s/cluster/internal-ca), not a district's", o)
		case *PodMonitor:
			c.podMonitors = append(c.podMonitors, v)
		case *PrometheusRule:
			// Its PromQL is checked against the binary's metrics by internal/monitoring.
		default:
			c.problem("%s: no check covers this kind; add one to deploy/overlay before using it", o)
		}
	}
	return c
}

// placeholders finds values the base and components leave for the overlay to fill in.
func (c *checker) placeholders() {
	for _, o := range c.r.Objects {
		if strings.Contains(string(o.YAML), ".invalid") {
			c.problem("%s: still holds a placeholder (a .invalid name from the base or a component): the overlay must set it", o)
		}
	}
}

func (c *checker) namespacesAndDefaultDeny() {
	used := map[string]bool{}
	for _, o := range c.r.Objects {
		if !clusterScoped[o.Kind] && o.Namespace != "" {
			used[o.Namespace] = true
		}
	}
	for ns := range c.namespaces {
		used[ns] = true
	}
	for _, ns := range slices.Sorted(maps.Keys(used)) {
		if c.namespaces[ns] == nil {
			c.problem("namespace %s: the overlay does not create it (add a Namespace to its resources)", ns)
		} else if c.namespaces[ns].Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			c.problem("Namespace %s: label pod-security.kubernetes.io/enforce must be \"restricted\"", ns)
		}
		if !slices.ContainsFunc(c.policies, func(p *networkingv1.NetworkPolicy) bool { return p.Namespace == ns && isDefaultDeny(p) }) {
			c.problem("namespace %s: no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, no rules)", ns)
		}
	}
}

func isDefaultDeny(p *networkingv1.NetworkPolicy) bool {
	s := p.Spec.PodSelector
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0 &&
		slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) &&
		slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) &&
		len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0
}

func (c *checker) autoscalers() {
	for _, h := range c.hpas {
		where := fmt.Sprintf("HorizontalPodAutoscaler %s/%s", h.Namespace, h.Name)
		ref := h.Spec.ScaleTargetRef
		d := c.deployment1(h.Namespace, ref.Name)
		if ref.Kind != "Deployment" || d == nil {
			c.problem("%s: scaleTargetRef %s %s: no such Deployment", where, ref.Kind, ref.Name)
			continue
		}
		if d.Spec.Replicas != nil {
			c.problem("Deployment %s/%s: sets replicas while %s scales it: leave replicas out, or every apply resets the count", d.Namespace, d.Name, where)
		}
		switch {
		case h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2:
			c.problem("%s: minReplicas must be at least 2, so a node drain or a rollout never leaves none", where)
		case h.Spec.MaxReplicas < *h.Spec.MinReplicas:
			c.problem("%s: maxReplicas %d is below minReplicas %d", where, h.Spec.MaxReplicas, *h.Spec.MinReplicas)
		}
		if len(h.Spec.Metrics) == 0 {
			c.problem("%s: no metrics to scale on", where)
		}
	}
	for _, d := range c.deployments {
		if !slices.ContainsFunc(c.hpas, func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
			return h.Namespace == d.Namespace && h.Spec.ScaleTargetRef.Name == d.Name
		}) {
			c.problem("Deployment %s/%s: no HorizontalPodAutoscaler: every jiayuan Deployment is stateless and scaled by one", d.Namespace, d.Name)
		}
	}
}

func (c *checker) deployment1(ns, name string) *appsv1.Deployment {
	for _, d := range c.deployments {
		if d.Namespace == ns && d.Name == name {
			return d
		}
	}
	return nil
}

// podsMatching returns the Deployments in ns whose pods the selector selects.
func (c *checker) podsMatching(ns string, sel *metav1.LabelSelector) []*appsv1.Deployment {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil
	}
	var out []*appsv1.Deployment
	for _, d := range c.deployments {
		if d.Namespace == ns && s.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d)
		}
	}
	return out
}

func (c *checker) disruptionBudgets() {
	for _, p := range c.pdbs {
		where := fmt.Sprintf("PodDisruptionBudget %s/%s", p.Namespace, p.Name)
		if p.Spec.Selector == nil || len(c.podsMatching(p.Namespace, p.Spec.Selector)) == 0 {
			c.problem("%s: selector matches no Deployment's pods", where)
		}
		if p.Spec.MinAvailable == nil && p.Spec.MaxUnavailable == nil {
			c.problem("%s: set maxUnavailable (or minAvailable)", where)
		}
	}
	for _, d := range c.deployments {
		if !slices.ContainsFunc(c.pdbs, func(p *policyv1.PodDisruptionBudget) bool {
			return p.Namespace == d.Namespace && p.Spec.Selector != nil && slices.Contains(c.podsMatching(p.Namespace, p.Spec.Selector), d)
		}) {
			c.problem("Deployment %s/%s: no PodDisruptionBudget covers its pods", d.Namespace, d.Name)
		}
	}
}

func (c *checker) servicesAndIngresses() {
	for _, s := range c.services {
		where := fmt.Sprintf("Service %s/%s", s.Namespace, s.Name)
		ds := c.podsMatching(s.Namespace, &metav1.LabelSelector{MatchLabels: s.Spec.Selector})
		if len(s.Spec.Selector) == 0 || len(ds) == 0 {
			c.problem("%s: selector %v matches no Deployment's pods", where, s.Spec.Selector)
			continue
		}
		for _, p := range s.Spec.Ports {
			for _, d := range ds {
				if _, ok := containerPort(d.Spec.Template.Spec.Containers, p.TargetPort.String()); !ok {
					c.problem("%s: port %s targets %s, which Deployment %s declares in no container", where, p.Name, p.TargetPort.String(), d.Name)
				}
			}
		}
	}
	for _, in := range c.ingresses {
		where := fmt.Sprintf("Ingress %s/%s", in.Namespace, in.Name)
		for _, rule := range in.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				b := p.Backend.Service
				if b == nil {
					c.problem("%s: host %s path %s: backend is not a Service", where, rule.Host, p.Path)
					continue
				}
				svc := c.service(in.Namespace, b.Name)
				if svc == nil {
					c.problem("%s: backend Service %s: not in the overlay", where, b.Name)
					continue
				}
				if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool {
					return (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number)
				}) {
					c.problem("%s: backend Service %s has no port %s%d", where, b.Name, b.Port.Name, b.Port.Number)
				}
			}
		}
		for _, t := range in.Spec.TLS {
			if t.SecretName == "" {
				c.problem("%s: tls without a secretName", where)
			}
		}
	}
}

func (c *checker) service(ns, name string) *corev1.Service {
	for _, s := range c.services {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	return nil
}

// containerPort finds a port among containers by number or name.
func containerPort(ctrs []corev1.Container, port string) (corev1.ContainerPort, bool) {
	for _, ctr := range ctrs {
		for _, p := range ctr.Ports {
			if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
				return p, true
			}
		}
	}
	return corev1.ContainerPort{}, false
}

// policySelectors reports policies whose podSelector selects nothing: a typo in a label makes a
// policy silently useless.
func (c *checker) policySelectors() {
	for _, p := range c.policies {
		s := p.Spec.PodSelector
		if len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0 {
			continue
		}
		if len(c.podsMatching(p.Namespace, &s)) > 0 || c.clusterPodsMatch(p.Namespace, &s) {
			continue
		}
		c.problem("NetworkPolicy %s/%s: podSelector %v selects no pod of the overlay", p.Namespace, p.Name, s.MatchLabels)
	}
}

// clusterPodsMatch reports whether sel selects a CloudNativePG Cluster's instance pods, which
// carry cnpg.io/cluster=<name>.
func (c *checker) clusterPodsMatch(ns string, sel *metav1.LabelSelector) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	for _, cl := range c.clusters {
		if cl.Namespace == ns && s.Matches(labels.Set{"cnpg.io/cluster": cl.Name}) {
			return true
		}
	}
	return false
}

// secretKeys returns the keys a Secret the overlay references will have: those an operator
// makes it with, or those its example file documents. ok is false when it is neither.
func (c *checker) secretKeys(ns, name string) (keys []string, ok bool) {
	if k, made := c.made[key(ns, name)]; made {
		return k, true
	}
	if k, seen := c.documented[name]; seen {
		return k, k != nil
	}
	k, err := readExample(filepath.Join(c.opts.SecretsDir, name+".example.env"))
	if err != nil {
		c.documented[name] = nil
		return nil, false
	}
	c.documented[name] = k
	return k, true
}

// secretRef checks a reference to key of Secret name in ns, made by an operator or documented.
func (c *checker) secretRef(where, ns, name, k string) {
	keys, ok := c.secretKeys(ns, name)
	switch {
	case !ok:
		c.problem("%s: Secret %s: no operator makes it and %s does not document it", where, name, filepath.Join(c.opts.SecretsDir, name+".example.env"))
	case k != "" && !slices.Contains(keys, k):
		c.problem("%s: Secret %s has no key %q (it has %s)", where, name, k, strings.Join(keys, ", "))
	}
}

// readExample reads the keys of a KEY=value env file (comments and blank lines skipped).
func readExample(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: want KEY=value", path, n)
		}
		keys = append(keys, k)
	}
	return keys, sc.Err()
}

// servicesRun checks that an overlay running any service runs all of them, each behind the
// gateway: a district runs the whole suite.
func (c *checker) servicesRun() {
	byNS := map[string]map[string]bool{}
	for _, d := range c.deployments {
		for _, ctr := range d.Spec.Template.Spec.Containers {
			if len(ctr.Args) >= 2 && ctr.Args[0] == "serve" {
				if byNS[d.Namespace] == nil {
					byNS[d.Namespace] = map[string]bool{}
				}
				byNS[d.Namespace][ctr.Args[1]] = true
			}
		}
	}
	for ns, running := range byNS {
		var services int
		for _, s := range Services() {
			if running[s] {
				services++
			}
		}
		if services == 0 {
			continue // a namespace of gateways only (the city's)
		}
		for _, s := range append(Services(), "gateway") {
			if !running[s] {
				c.problem("namespace %s: runs services but no Deployment runs `jiayuan serve %s`", ns, s)
			}
		}
	}
}

// egressDestinations refuses egress to any address: a rule with no destination, or an ipBlock
// of everything. The identity provider, the messaging gateway, object storage and the
// Kubernetes API are outside every namespace, so the base cannot name them; the overlay adds
// their addresses (an ipBlock), and a compromised pod cannot send the district's data anywhere
// else on 443.
func (c *checker) egressDestinations() {
	for _, p := range c.policies {
		for i, r := range p.Spec.Egress {
			where := fmt.Sprintf("NetworkPolicy %s/%s: egress[%d]", p.Namespace, p.Name, i)
			if len(r.To) == 0 {
				c.problem("%s: %s to any address: name the destinations (the overlay adds `to` with an ipBlock of their addresses)", where, portList(r.Ports))
				continue
			}
			for _, to := range r.To {
				if b := to.IPBlock; b != nil && (strings.HasSuffix(b.CIDR, "/0")) {
					c.problem("%s: ipBlock %s is every address: name the destinations' own", where, b.CIDR)
				}
			}
		}
	}
}

func portList(ports []networkingv1.NetworkPolicyPort) string {
	if len(ports) == 0 {
		return "every port"
	}
	var out []string
	for _, p := range ports {
		if p.Port != nil {
			out = append(out, p.Port.String())
		}
	}
	return "port " + strings.Join(out, ", ")
}
