package overlay

import (
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Pod is a pod as network policies see it: its namespace (with the namespace's labels) and its
// own labels, and the named ports it declares.
type Pod struct {
	Name            string
	Namespace       string
	NamespaceLabels map[string]string
	Labels          map[string]string
	Ports           map[string]int32
}

// Network evaluates the NetworkPolicies of several rendered overlays together, as a cluster
// running all of them would enforce them.
type Network struct {
	policies   []*networkingv1.NetworkPolicy
	namespaces map[string]map[string]string // name → labels, with kubernetes.io/metadata.name
	pods       []Pod
}

// NewNetwork gathers the policies, namespaces and pods (Deployments' pod templates and
// CloudNativePG instances) of the overlays.
func NewNetwork(all ...*Rendered) *Network {
	n := &Network{namespaces: map[string]map[string]string{}}
	for _, r := range all {
		for _, o := range r.Objects {
			if ns, ok := o.Value.(*corev1.Namespace); ok {
				l := maps.Clone(ns.Labels)
				if l == nil {
					l = map[string]string{}
				}
				l["kubernetes.io/metadata.name"] = ns.Name
				n.namespaces[ns.Name] = l
			}
		}
	}
	for _, r := range all {
		for _, o := range r.Objects {
			switch v := o.Value.(type) {
			case *networkingv1.NetworkPolicy:
				n.policies = append(n.policies, v)
			case *appsv1.Deployment:
				ports := map[string]int32{}
				for _, ctr := range v.Spec.Template.Spec.Containers {
					for _, p := range ctr.Ports {
						ports[p.Name] = p.ContainerPort
					}
				}
				n.pods = append(n.pods, n.Pod(v.Name, v.Namespace, v.Spec.Template.Labels, ports))
			case *Cluster:
				n.pods = append(n.pods, n.Pod(v.Name, v.Namespace, map[string]string{"cnpg.io/cluster": v.Name},
					map[string]int32{"postgresql": 5432}))
			}
		}
	}
	return n
}

// Pod describes a pod in namespace ns, which takes the labels of the overlays' Namespace of that
// name (or only kubernetes.io/metadata.name for a namespace outside them, such as kube-system).
func (n *Network) Pod(name, ns string, podLabels map[string]string, ports map[string]int32) Pod {
	nl := n.namespaces[ns]
	if nl == nil {
		nl = map[string]string{"kubernetes.io/metadata.name": ns}
	}
	return Pod{Name: name, Namespace: ns, NamespaceLabels: nl, Labels: podLabels, Ports: ports}
}

// Pods returns the pods of the overlays.
func (n *Network) Pods() []Pod { return n.pods }

// Allowed reports nil when from may open a connection to port (of protocol) on to: allowed on
// the way out of from's namespace and on the way into to's. Otherwise it says which side
// refuses. Peers given only as ipBlocks never match a pod here: pod addresses are not known.
func (n *Network) Allowed(from, to Pod, protocol corev1.Protocol, port int32) error {
	if !n.permits(from, to, networkingv1.PolicyTypeEgress, protocol, port) {
		return fmt.Errorf("no NetworkPolicy in %s lets %s send to %s/%s on %s %d", from.Namespace, from.Name, to.Namespace, to.Name, protocol, port)
	}
	if !n.permits(to, from, networkingv1.PolicyTypeIngress, protocol, port) {
		return fmt.Errorf("no NetworkPolicy in %s lets %s/%s reach %s on %s %d", to.Namespace, from.Namespace, from.Name, to.Name, protocol, port)
	}
	return nil
}

// permits reports whether the policies selecting subject allow traffic of the given direction
// with peer; dst is the pod whose named ports a rule's ports refer to.
func (n *Network) permits(subject, peer Pod, dir networkingv1.PolicyType, protocol corev1.Protocol, port int32) bool {
	dst := peer
	if dir == networkingv1.PolicyTypeIngress {
		dst = subject
	}
	isolated := false
	for _, p := range n.policies {
		if p.Namespace != subject.Namespace || !hasType(p, dir) || !selects(&p.Spec.PodSelector, subject.Labels) {
			continue
		}
		isolated = true
		if dir == networkingv1.PolicyTypeEgress {
			for _, rule := range p.Spec.Egress {
				if n.peersMatch(p.Namespace, rule.To, peer) && portsMatch(rule.Ports, dst, protocol, port) {
					return true
				}
			}
		} else {
			for _, rule := range p.Spec.Ingress {
				if n.peersMatch(p.Namespace, rule.From, peer) && portsMatch(rule.Ports, dst, protocol, port) {
					return true
				}
			}
		}
	}
	return !isolated
}

func hasType(p *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		// Unset means Ingress, plus Egress when there are egress rules.
		return t == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	for _, pt := range p.Spec.PolicyTypes {
		if pt == t {
			return true
		}
	}
	return false
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(l))
}

func (n *Network) peersMatch(policyNS string, peers []networkingv1.NetworkPolicyPeer, pod Pod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		switch {
		case peer.IPBlock != nil:
		case peer.NamespaceSelector == nil && peer.PodSelector != nil:
			if pod.Namespace == policyNS && selects(peer.PodSelector, pod.Labels) {
				return true
			}
		case peer.NamespaceSelector != nil:
			if selects(peer.NamespaceSelector, pod.NamespaceLabels) &&
				(peer.PodSelector == nil || selects(peer.PodSelector, pod.Labels)) {
				return true
			}
		}
	}
	return false
}

func portsMatch(ports []networkingv1.NetworkPolicyPort, dst Pod, protocol corev1.Protocol, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if proto != protocol {
			continue
		}
		if p.Port == nil {
			return true
		}
		want := p.Port.IntVal
		if p.Port.Type == 1 { // a named port of the destination pod
			want = dst.Ports[p.Port.StrVal]
		}
		end := want
		if p.EndPort != nil {
			end = *p.EndPort
		}
		if want != 0 && port >= want && port <= end {
			return true
		}
	}
	return false
}
