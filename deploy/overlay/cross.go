package overlay

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// CheckAll checks what holds between overlays deployed side by side in one cluster: every
// address a gateway or a service dials (a gateway's upstreams, a service's peers) names a
// Service of some overlay that runs that service, the network policies let the caller through
// and nothing says TLS on one side and plaintext on the other; services reach their
// PostgreSQL, DNS and the telemetry collector.
func CheckAll(all []*Rendered) error {
	nw := NewNetwork(all...)
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	type workload struct {
		r *Rendered
		d *appsv1.Deployment
	}
	var workloads []workload
	// used holds, per Deployment dialled over mutual TLS, the names its callers' certificates carry.
	used := map[string]map[string]bool{}
	for _, r := range all {
		for _, o := range r.Objects {
			if d, ok := o.Value.(*appsv1.Deployment); ok {
				workloads = append(workloads, workload{r, d})
			}
		}
	}
	podOf := func(d *appsv1.Deployment) Pod {
		for _, p := range nw.Pods() {
			if p.Name == d.Name && p.Namespace == d.Namespace {
				return p
			}
		}
		return Pod{}
	}
	// Hypothetical peers outside the overlays, as docs/deploy.md asks the cluster to label them.
	dns := nw.Pod("kube-dns", "kube-system", map[string]string{"k8s-app": "kube-dns"}, nil)
	collector := Pod{Name: "otel-collector", Namespace: "observability",
		NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "observability", "jiayuan.io/telemetry": "true"}}

	for _, w := range workloads {
		where := fmt.Sprintf("Deployment %s/%s", w.d.Namespace, w.d.Name)
		from := podOf(w.d)
		if err := nw.Allowed(from, dns, corev1.ProtocolUDP, 53); err != nil {
			bad("%s: DNS: %v", where, err)
		}
		if err := nw.Allowed(from, collector, corev1.ProtocolTCP, 4318); err != nil {
			bad("%s: telemetry: %v", where, err)
		}
		if w.d.Spec.Template.Labels["jiayuan.io/postgresql-client"] == "true" {
			for _, p := range nw.Pods() {
				if p.Namespace == w.d.Namespace && p.Labels["cnpg.io/cluster"] != "" {
					if err := nw.Allowed(from, p, corev1.ProtocolTCP, 5432); err != nil {
						bad("%s: PostgreSQL: %v", where, err)
					}
				}
			}
		}
		for _, ctr := range w.d.Spec.Template.Spec.Containers {
			if len(ctr.Args) < 2 || ctr.Args[0] != "serve" {
				continue
			}
			if ctr.Args[1] == reporting.RollupName {
				rollupTargets(bad, all, nw, w.r, w.d, &ctr, from, podOf, used)
				continue
			}
			callees, caller := Peers(ctr.Args[1]), peerCaller(ctr.Args[1])
			if ctr.Args[1] == "gateway" {
				callees, caller = Services(), gatewayCaller
			}
			env := literalEnv(w.r, w.d.Namespace, &ctr)
			for _, svc := range callees {
				addr := env[config.EnvName(svc+"-addr")]
				if addr == "" {
					continue // reported by Check
				}
				aw := fmt.Sprintf("%s: %s=%s", where, config.EnvName(svc+"-addr"), addr)
				target, tr, err := resolve(all, w.d.Namespace, addr)
				if err != nil {
					bad("%s: %v", aw, err)
					continue
				}
				if !slices.ContainsFunc(target.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
					return len(c.Args) >= 2 && c.Args[0] == "serve" && c.Args[1] == svc
				}) {
					bad("%s: Deployment %s/%s behind it does not run `jiayuan serve %s`", aw, target.Namespace, target.Name, svc)
					continue
				}
				_, portStr, _ := net.SplitHostPort(addr)
				port, _ := strconv.Atoi(portStr)
				if err := nw.Allowed(from, podOf(target), corev1.ProtocolTCP, int32(targetPort(all, target, addr, port))); err != nil {
					bad("%s: %v", aw, err)
				}
				tlsMatch(bad, aw, caller, w.r, tr, w.d, &ctr, target, addr)
				if cert := certificateFor(w.r, w.d, &ctr, env[caller.cert]); cert != nil {
					k := target.Namespace + "/" + target.Name
					if used[k] == nil {
						used[k] = map[string]bool{}
					}
					for _, n := range cert.Spec.DNSNames {
						used[k][n] = true
					}
				}
			}
		}
	}
	for _, w := range workloads {
		for i := range w.d.Spec.Template.Spec.Containers {
			clientNames(bad, w.r, w.d, &w.d.Spec.Template.Spec.Containers[i], used[w.d.Namespace+"/"+w.d.Name])
		}
	}
	return errors.Join(problems...)
}

// rollupTargets checks the city rollup's districts (its rollup.yaml, read from the ConfigMap
// mounted where JIAYUAN_ROLLUP_CONFIG points): each address names the reporting service of an
// overlay whose namespace is that district's (jiayuan.io/district), the network policies let
// the rollup through, and TLS agrees on both sides (a district marked plaintext: true is
// dialled without it). The rollup's certificate names count as used in the districts' caller
// lists.
func rollupTargets(bad func(string, ...any), all []*Rendered, nw *Network, r *Rendered, d *appsv1.Deployment, ctr *corev1.Container,
	from Pod, podOf func(*appsv1.Deployment) Pod, used map[string]map[string]bool) {
	where := fmt.Sprintf("Deployment %s/%s", d.Namespace, d.Name)
	env := literalEnv(r, d.Namespace, ctr)
	file := env[config.EnvName("rollup-config")]
	data, ok := mountedConfigMapFile(r, d, ctr, file)
	if !ok {
		return // reported by Check
	}
	f, err := reporting.ParseRollup(file, []byte(data))
	if err != nil {
		return // reported by Check
	}
	caller := peerCaller(reporting.RollupName)
	plain := *ctr
	plain.Env = slices.DeleteFunc(slices.Clone(ctr.Env), func(e corev1.EnvVar) bool { return strings.HasPrefix(e.Name, "JIAYUAN_PEER_TLS_") })
	for i, dist := range f.Districts {
		aw := fmt.Sprintf("%s: %s: districts[%d] (%s %s) address %s", where, file, i, dist.Code, dist.Name, dist.Address)
		target, tr, err := resolve(all, d.Namespace, dist.Address)
		if err != nil {
			bad("%s: %v: the city has no such district's reporting service", aw, err)
			continue
		}
		if !slices.ContainsFunc(target.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
			return len(c.Args) >= 2 && c.Args[0] == "serve" && c.Args[1] == reporting.Name
		}) {
			bad("%s: Deployment %s/%s behind it does not run `jiayuan serve %s`", aw, target.Namespace, target.Name, reporting.Name)
			continue
		}
		if got := nw.namespaces[target.Namespace]["jiayuan.io/district"]; got != dist.Code {
			bad("%s: namespace %s is district %q's, not %s's: the rollup would count one district under another's name", aw, target.Namespace, got, dist.Code)
		}
		_, portStr, _ := net.SplitHostPort(dist.Address)
		port, _ := strconv.Atoi(portStr)
		if err := nw.Allowed(from, podOf(target), corev1.ProtocolTCP, int32(targetPort(all, target, dist.Address, port))); err != nil {
			bad("%s: %v", aw, err)
		}
		dialer := ctr
		if dist.Plaintext {
			dialer = &plain
		}
		tlsMatch(bad, aw, caller, r, tr, d, dialer, target, dist.Address)
		if cert := certificateFor(r, d, dialer, env[caller.cert]); cert != nil && !dist.Plaintext {
			k := target.Namespace + "/" + target.Name
			if used[k] == nil {
				used[k] = map[string]bool{}
			}
			for _, n := range cert.Spec.DNSNames {
				used[k][n] = true
			}
		}
	}
}

// mountedConfigMapFile returns the contents of file as the container sees it: a key of a
// ConfigMap volume mounted above it.
func mountedConfigMapFile(r *Rendered, d *appsv1.Deployment, ctr *corev1.Container, file string) (string, bool) {
	for _, vm := range ctr.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			for _, o := range r.Objects {
				if cm, ok := o.Value.(*corev1.ConfigMap); ok && cm.Namespace == d.Namespace && cm.Name == v.ConfigMap.Name {
					data, ok := cm.Data[rel]
					return data, ok
				}
			}
		}
	}
	return "", false
}

// literalEnv returns a container's environment variables that have literal values.
func literalEnv(r *Rendered, ns string, ctr *corev1.Container) map[string]string {
	out := map[string]string{}
	cms := map[string]*corev1.ConfigMap{}
	for _, o := range r.Objects {
		if cm, ok := o.Value.(*corev1.ConfigMap); ok && cm.Namespace == ns {
			cms[cm.Name] = cm
		}
	}
	for _, ef := range ctr.EnvFrom {
		if ef.ConfigMapRef != nil && cms[ef.ConfigMapRef.Name] != nil {
			for k, v := range cms[ef.ConfigMapRef.Name].Data {
				out[ef.Prefix+k] = v
			}
		}
	}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom == nil:
			out[e.Name] = e.Value
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if cm := cms[e.ValueFrom.ConfigMapKeyRef.Name]; cm != nil {
				if v, ok := cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]; ok {
					out[e.Name] = v
				}
			}
		}
	}
	return out
}

// resolve finds the Deployment behind host:port as a pod in namespace ns dials it: a Service
// "name" in ns, or "name.namespace[.svc[.cluster.local]]".
func resolve(all []*Rendered, ns, addr string) (*appsv1.Deployment, *Rendered, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	name, svcNS := host, ns
	if parts := strings.Split(host, "."); len(parts) > 1 {
		rest := strings.Join(parts[2:], ".")
		if rest != "" && rest != "svc" && rest != "svc.cluster.local" {
			return nil, nil, fmt.Errorf("host %q: not a Service name (name, name.namespace.svc or name.namespace.svc.cluster.local)", host)
		}
		name, svcNS = parts[0], parts[1]
	}
	for _, r := range all {
		for _, o := range r.Objects {
			s, ok := o.Value.(*corev1.Service)
			if !ok || s.Name != name || s.Namespace != svcNS {
				continue
			}
			sel := labels.SelectorFromSet(s.Spec.Selector)
			for _, o2 := range r.Objects {
				if d, ok := o2.Value.(*appsv1.Deployment); ok && d.Namespace == svcNS && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
					return d, r, nil
				}
			}
			return nil, nil, fmt.Errorf("Service %s/%s selects no Deployment", svcNS, name)
		}
	}
	return nil, nil, fmt.Errorf("no overlay has a Service %s in namespace %s", name, svcNS)
}

// targetPort maps a Service port to the container port the pods receive it on.
func targetPort(all []*Rendered, d *appsv1.Deployment, addr string, port int) int {
	host, _, _ := net.SplitHostPort(addr)
	name := strings.Split(host, ".")[0]
	for _, r := range all {
		for _, o := range r.Objects {
			s, ok := o.Value.(*corev1.Service)
			if !ok || s.Name != name || s.Namespace != d.Namespace {
				continue
			}
			for _, sp := range s.Spec.Ports {
				if int(sp.Port) == port {
					if p, ok := containerPort(d.Spec.Template.Spec.Containers, sp.TargetPort.String()); ok {
						return int(p.ContainerPort)
					}
				}
			}
		}
	}
	return port
}

// A caller is how a process dialling a service configures TLS to it: its name in messages and
// the variables holding its CA and client certificate.
type caller struct {
	name, ca, cert, key string
}

// gatewayCaller is the gateway dialling its upstreams.
var gatewayCaller = caller{"the gateway", "JIAYUAN_UPSTREAM_CA", "JIAYUAN_UPSTREAM_CERT", "JIAYUAN_UPSTREAM_KEY"}

// peerCaller is a service dialling the services it calls.
func peerCaller(service string) caller {
	return caller{service, "JIAYUAN_PEER_TLS_CA", "JIAYUAN_PEER_TLS_CERT", "JIAYUAN_PEER_TLS_KEY"}
}

// tlsMatch checks that a caller and the service it dials agree on TLS, and that the service's
// certificate names the host the caller dials and comes from the issuer of the caller's.
func tlsMatch(bad func(string, ...any), where string, c caller, gr, tr *Rendered, gw *appsv1.Deployment, gctr *corev1.Container, target *appsv1.Deployment, addr string) {
	genv := literalEnv(gr, gw.Namespace, gctr)
	var tctr *corev1.Container
	for i, ct := range target.Spec.Template.Spec.Containers {
		if len(ct.Args) >= 1 && ct.Args[0] == "serve" {
			tctr = &target.Spec.Template.Spec.Containers[i]
		}
	}
	tenv := literalEnv(tr, target.Namespace, tctr)
	serverTLS, clientTLS := tenv["JIAYUAN_TLS_CERT"] != "", genv[c.ca] != ""
	switch {
	case serverTLS && !clientTLS:
		bad("%s: %s/%s serves TLS but %s dials in plaintext (set %s)", where, target.Namespace, target.Name, c.name, c.ca)
		return
	case !serverTLS && clientTLS:
		bad("%s: %s dials TLS but %s/%s serves plaintext", where, c.name, target.Namespace, target.Name)
		return
	case !serverTLS:
		return
	}
	if tenv["JIAYUAN_TLS_CLIENT_CA"] != "" && (genv[c.cert] == "" || genv[c.key] == "") {
		bad("%s: %s/%s requires client certificates but %s presents none (%s, %s)", where, target.Namespace, target.Name, c.name, c.cert, c.key)
	}
	serverCert := certificateFor(tr, target, tctr, tenv["JIAYUAN_TLS_CERT"])
	clientCert := certificateFor(gr, gw, gctr, genv[c.ca])
	if tenv["JIAYUAN_TLS_CLIENT_CA"] != "" && genv[c.cert] != "" {
		allowedCaller(bad, where, c, tenv, target, certificateFor(gr, gw, gctr, genv[c.cert]))
	}
	if serverCert == nil {
		bad("%s: %s/%s's certificate file is not from a cert-manager Certificate of its overlay", where, target.Namespace, target.Name)
		return
	}
	host, _, _ := net.SplitHostPort(addr)
	if !slices.Contains(serverCert.Spec.DNSNames, host) {
		bad("%s: Certificate %s/%s does not name %q (dnsNames %v): %s's TLS check would fail", where, serverCert.Namespace, serverCert.Name, host, serverCert.Spec.DNSNames, c.name)
	}
	if clientCert != nil && clientCert.Spec.IssuerRef != serverCert.Spec.IssuerRef {
		bad("%s: %s trusts the CA of %v but %s/%s's certificate comes from %v", where, c.name, clientCert.Spec.IssuerRef, target.Namespace, target.Name, serverCert.Spec.IssuerRef)
	}
}

// certificateFor finds the Certificate whose Secret is mounted where file lies.
func certificateFor(r *Rendered, d *appsv1.Deployment, ctr *corev1.Container, file string) *Certificate {
	var secret string
	for _, vm := range ctr.VolumeMounts {
		if strings.HasPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == vm.Name && v.Secret != nil {
					secret = v.Secret.SecretName
				}
			}
		}
	}
	for _, o := range r.Objects {
		if ct, ok := o.Value.(*Certificate); ok && ct.Namespace == d.Namespace && ct.Spec.SecretName == secret && secret != "" {
			return ct
		}
	}
	return nil
}

// allowedCaller checks the callee's allow-list of client certificate names
// (JIAYUAN_TLS_CLIENT_NAMES) against the certificate the caller presents: it must be there,
// and the list must name callers by their full names (name.namespace.svc), since every
// district's pods hold certificates from the same CA with the same short names.
func allowedCaller(bad func(string, ...any), where string, c caller, tenv map[string]string, target *appsv1.Deployment, cert *Certificate) {
	list := tenv["JIAYUAN_TLS_CLIENT_NAMES"]
	if list == "" {
		bad("%s: %s/%s requires client certificates from the CA every district shares but names no callers (JIAYUAN_TLS_CLIENT_NAMES): any district's pod could call it",
			where, target.Namespace, target.Name)
		return
	}
	if cert == nil {
		bad("%s: %s's client certificate is not from a cert-manager Certificate of its overlay, so its names are unknown", where, c.name)
		return
	}
	names := strings.Split(list, ",")
	for _, n := range cert.Spec.DNSNames {
		if slices.Contains(names, n) {
			return
		}
	}
	bad("%s: Certificate %s/%s (dnsNames %v) names none of %s/%s's JIAYUAN_TLS_CLIENT_NAMES %q: %s's calls would be refused",
		where, cert.Namespace, cert.Name, cert.Spec.DNSNames, target.Namespace, target.Name, list, c.name)
}

// clientNames checks each allow-list once: full names only, each one of a caller that dials
// the service (an entry no caller holds is a door left open).
func clientNames(bad func(string, ...any), r *Rendered, d *appsv1.Deployment, ctr *corev1.Container, used map[string]bool) {
	list := literalEnv(r, d.Namespace, ctr)["JIAYUAN_TLS_CLIENT_NAMES"]
	if list == "" {
		return
	}
	for _, n := range strings.Split(list, ",") {
		switch parts := strings.Split(n, "."); {
		case len(parts) < 3 || parts[2] != "svc":
			bad("Deployment %s/%s: JIAYUAN_TLS_CLIENT_NAMES %q: name callers in full (name.namespace.svc): every district's gateway holds the short name gateway", d.Namespace, d.Name, n)
		case !used[n]:
			bad("Deployment %s/%s: JIAYUAN_TLS_CLIENT_NAMES %q: no caller that dials it presents a certificate of that name: remove it", d.Namespace, d.Name, n)
		}
	}
}
