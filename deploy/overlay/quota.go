package overlay

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// quotaResources are what a namespace's ResourceQuota must bound, and what the check sums.
var quotaResources = []corev1.ResourceName{
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourcePods,
}

// quotas requires a ResourceQuota and a LimitRange in every namespace, so one district cannot
// starve the others on a shared cluster, and the quota large enough for what the namespace
// runs at its autoscalers' maximum plus a rollout's surge (and its PostgreSQL instances):
// a quota that is too small stops a scale-up or a rollout at the moment it is needed.
func (c *checker) quotas() {
	for _, ns := range slices.Sorted(maps.Keys(c.namespaces)) {
		var quota *corev1.ResourceQuota
		hasLimits := false
		for _, o := range c.r.Objects {
			switch v := o.Value.(type) {
			case *corev1.ResourceQuota:
				if v.Namespace == ns {
					quota = v
				}
			case *corev1.LimitRange:
				if v.Namespace == ns {
					hasLimits = true
					c.limitRange(v)
				}
			}
		}
		if !hasLimits {
			c.problem("namespace %s: no LimitRange: a container without resources (an operator's job) would be refused by the quota", ns)
		}
		if quota == nil {
			c.problem("namespace %s: no ResourceQuota: a district's pods could take the whole cluster", ns)
			continue
		}
		need, parts := c.namespaceNeeds(ns)
		where := fmt.Sprintf("ResourceQuota %s/%s", ns, quota.Name)
		for _, r := range quotaResources {
			hard, ok := quota.Spec.Hard[r]
			n := need[r]
			switch {
			case !ok:
				c.problem("%s: hard.%s not set", where, r)
			case hard.Cmp(n) < 0:
				c.problem("%s: hard.%s %s is below the %s the namespace runs at its autoscalers' maximum plus a rollout's surge (%s)",
					where, r, hard.String(), n.String(), strings.Join(parts[r], ", "))
			}
		}
	}
}

// limitRange requires container defaults, which pods without resources get.
func (c *checker) limitRange(l *corev1.LimitRange) {
	for _, it := range l.Spec.Limits {
		if it.Type == corev1.LimitTypeContainer && it.Default.Cpu() != nil && !it.Default.Cpu().IsZero() &&
			!it.Default.Memory().IsZero() && !it.DefaultRequest.Cpu().IsZero() && !it.DefaultRequest.Memory().IsZero() {
			return
		}
	}
	c.problem("LimitRange %s/%s: give type Container a default and a defaultRequest for cpu and memory", l.Namespace, l.Name)
}

// namespaceNeeds sums the resources of the namespace at its peak, with each workload's share
// for messages.
func (c *checker) namespaceNeeds(ns string) (map[corev1.ResourceName]resource.Quantity, map[corev1.ResourceName][]string) {
	need := map[corev1.ResourceName]resource.Quantity{}
	parts := map[corev1.ResourceName][]string{}
	add := func(name string, pods int, pod corev1.ResourceRequirements) {
		for _, r := range quotaResources {
			var q resource.Quantity
			switch r {
			case corev1.ResourcePods:
				q = *resource.NewQuantity(int64(pods), resource.DecimalSI)
			case corev1.ResourceRequestsCPU:
				q = mul(pod.Requests[corev1.ResourceCPU], pods)
			case corev1.ResourceRequestsMemory:
				q = mul(pod.Requests[corev1.ResourceMemory], pods)
			case corev1.ResourceLimitsCPU:
				q = mul(pod.Limits[corev1.ResourceCPU], pods)
			case corev1.ResourceLimitsMemory:
				q = mul(pod.Limits[corev1.ResourceMemory], pods)
			}
			sum := need[r]
			sum.Add(q)
			need[r] = sum
			parts[r] = append(parts[r], fmt.Sprintf("%s %s", name, q.String()))
		}
	}
	for _, d := range c.deployments {
		if d.Namespace == ns {
			add(d.Name, c.maxPods(d), podResources(d))
		}
	}
	for _, cl := range c.clusters {
		if cl.Namespace == ns {
			add("Cluster "+cl.Name, cl.Spec.Instances, cl.Spec.Resources)
		}
	}
	return need, parts
}

// podResources is what the scheduler and the quota count for a pod: per resource, the larger
// of the containers' sum and any one init container's.
func podResources(d *appsv1.Deployment) corev1.ResourceRequirements {
	out := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	ps := d.Spec.Template.Spec
	for _, pair := range []struct {
		dst corev1.ResourceList
		get func(corev1.Container) corev1.ResourceList
	}{{out.Requests, func(c corev1.Container) corev1.ResourceList { return c.Resources.Requests }},
		{out.Limits, func(c corev1.Container) corev1.ResourceList { return c.Resources.Limits }}} {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			var sum resource.Quantity
			for _, ctr := range ps.Containers {
				sum.Add(pair.get(ctr)[r])
			}
			for _, ctr := range ps.InitContainers {
				if q := pair.get(ctr)[r]; q.Cmp(sum) > 0 {
					sum = q
				}
			}
			pair.dst[r] = sum
		}
	}
	return out
}

func mul(q resource.Quantity, n int) resource.Quantity {
	out := resource.Quantity{Format: q.Format}
	for range n {
		out.Add(q)
	}
	return out
}
