package overlay

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// deployment checks one Deployment: the pod's security, each container's image, resources,
// security context, probes and settings, and the grace period against the shutdown it allows.
func (c *checker) deployment(d *appsv1.Deployment) {
	where := fmt.Sprintf("Deployment %s/%s", d.Namespace, d.Name)
	ps := &d.Spec.Template.Spec
	c.podSecurity(where, ps)
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		c.problem("%s: automountServiceAccountToken must be false: no jiayuan process calls the Kubernetes API", where)
	}
	if len(ps.TopologySpreadConstraints) == 0 {
		c.problem("%s: no topologySpreadConstraints: replicas could all land on one node", where)
	}
	if s := d.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable == nil || s.MaxUnavailable.IntValue() != 0 {
		c.problem("%s: rollingUpdate.maxUnavailable must be 0, so a version that fails to start never takes capacity away", where)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range ps.Volumes {
		volumes[v.Name] = v
	}
	for i := range ps.InitContainers {
		ctr := &ps.InitContainers[i]
		cw := fmt.Sprintf("%s: init container %s", where, ctr.Name)
		c.container(cw, d.Namespace, ps, volumes, ctr, true)
	}
	for i := range ps.Containers {
		ctr := &ps.Containers[i]
		cw := fmt.Sprintf("%s: container %s", where, ctr.Name)
		if m, env := c.container(cw, d.Namespace, ps, volumes, ctr, false); m != nil {
			c.gracePeriod(cw, ps, ctr, m, env)
		}
	}
}

func (c *checker) podSecurity(where string, ps *corev1.PodSpec) {
	sc := ps.SecurityContext
	if sc == nil {
		c.problem("%s: no pod securityContext", where)
		return
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		c.problem("%s: securityContext.runAsUser is 0 (root)", where)
	}
}

// container checks one container and returns the binary mode it runs (nil if none) and its
// resolved environment.
func (c *checker) container(where, ns string, ps *corev1.PodSpec, volumes map[string]corev1.Volume, ctr *corev1.Container, init bool) (*mode, map[string]setting) {
	c.image(where, ctr.Image)
	c.resources(where, ctr)
	c.securityContext(where, ps, ctr)
	for _, vm := range ctr.VolumeMounts {
		if _, ok := volumes[vm.Name]; !ok {
			c.problem("%s: volumeMount %s: no such volume", where, vm.Name)
		}
		if !vm.ReadOnly {
			c.problem("%s: volumeMount %s must be readOnly", where, vm.Name)
		}
	}
	if init {
		if ctr.ReadinessProbe != nil || ctr.LivenessProbe != nil || ctr.StartupProbe != nil {
			c.problem("%s: an init container has no probes", where)
		}
	} else {
		c.probes(where, ctr)
	}
	if len(ctr.Command) > 0 {
		c.problem("%s: command overrides the image's entrypoint (the jiayuan binary): give only args", where)
		return nil, nil
	}
	m, err := modeFor(ctr.Args)
	if err != nil {
		c.problem("%s: %v", where, err)
		return nil, nil
	}
	if init != (m.Args[0] == "migrate") {
		c.problem("%s: runs %s; migrations run as init containers and only there", where, m)
	}
	return m, c.settings(where, ns, volumes, ctr, m)
}

// image requires a tag or digest, never latest: what runs must be what was reviewed.
func (c *checker) image(where, image string) {
	if err := pinned(image); err != nil {
		c.problem("%s: image %q: %v", where, image, err)
	}
}

func pinned(image string) error {
	if image == "" {
		return errors.New("empty")
	}
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(last, ":")
	switch {
	case i < 0:
		return errors.New("no tag: pin a version (the overlay's images: newTag)")
	case last[i+1:] == "latest":
		return errors.New("the latest tag moves: pin a version")
	}
	return nil
}

func (c *checker) resources(where string, ctr *corev1.Container) {
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := ctr.Resources.Requests[r]
		lim, hasLim := ctr.Resources.Limits[r]
		switch {
		case !hasReq || !hasLim:
			c.problem("%s: resources: set both requests.%s and limits.%s", where, r, r)
		case req.Cmp(lim) > 0:
			c.problem("%s: resources: requests.%s %s is above limits.%s %s", where, r, req.String(), r, lim.String())
		}
	}
}

func (c *checker) securityContext(where string, ps *corev1.PodSpec, ctr *corev1.Container) {
	pod := ps.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	sc := ctr.SecurityContext
	if sc == nil {
		c.problem("%s: no securityContext", where)
		return
	}
	nonRoot := pod.RunAsNonRoot
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		c.problem("%s: runAsNonRoot must be true (in the pod's or the container's securityContext)", where)
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		c.problem("%s: securityContext.runAsUser is 0 (root)", where)
	}
	seccomp := pod.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		c.problem("%s: seccompProfile must be RuntimeDefault (in the pod's or the container's securityContext)", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.problem("%s: securityContext.allowPrivilegeEscalation must be false", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		c.problem("%s: securityContext.readOnlyRootFilesystem must be true", where)
	}
	if sc.Privileged != nil && *sc.Privileged {
		c.problem("%s: securityContext.privileged must not be set", where)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		c.problem("%s: securityContext.capabilities.drop must hold ALL", where)
	} else if len(sc.Capabilities.Add) > 0 {
		c.problem("%s: securityContext.capabilities.add %v: jiayuan needs none", where, sc.Capabilities.Add)
	}
}

// probes requires readiness and liveness probes, each on a port the container declares.
func (c *checker) probes(where string, ctr *corev1.Container) {
	if ctr.ReadinessProbe == nil {
		c.problem("%s: no readinessProbe", where)
	}
	if ctr.LivenessProbe == nil {
		c.problem("%s: no livenessProbe", where)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
	}{{"startupProbe", ctr.StartupProbe}, {"readinessProbe", ctr.ReadinessProbe}, {"livenessProbe", ctr.LivenessProbe}} {
		if p.probe == nil {
			continue
		}
		var port string
		h := p.probe.ProbeHandler
		handlers := 0
		if h.GRPC != nil {
			handlers++
			port = strconv.Itoa(int(h.GRPC.Port))
		}
		if h.HTTPGet != nil {
			handlers++
			port = h.HTTPGet.Port.String()
		}
		if h.TCPSocket != nil {
			handlers++
			port = h.TCPSocket.Port.String()
		}
		if h.Exec != nil {
			handlers++
			c.problem("%s: %s: exec probes need a shell or tool the image does not have", where, p.name)
		}
		if handlers != 1 {
			c.problem("%s: %s: give exactly one of grpc, httpGet, tcpSocket (has %d)", where, p.name, handlers)
			continue
		}
		if port != "" {
			if _, ok := containerPort([]corev1.Container{*ctr}, port); !ok {
				c.problem("%s: %s targets port %s, which the container does not declare", where, p.name, port)
			}
		}
	}
}

// gracePeriod: the kubelet must not kill the process before it has drained and stopped.
func (c *checker) gracePeriod(where string, ps *corev1.PodSpec, ctr *corev1.Container, m *mode, env map[string]setting) {
	need := durationSetting(env, m, "drain-delay") + durationSetting(env, m, "shutdown-timeout")
	if ctr.Lifecycle != nil && ctr.Lifecycle.PreStop != nil {
		if s := ctr.Lifecycle.PreStop.Sleep; s != nil {
			need += time.Duration(s.Seconds) * time.Second
		}
	}
	grace := 30 * time.Second // Kubernetes' default
	if ps.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*ps.TerminationGracePeriodSeconds) * time.Second
	}
	if grace <= need {
		c.problem("%s: terminationGracePeriodSeconds %s is not longer than the %s %s needs to drain and stop", where, grace, need, m)
	}
}

// durationSetting is a duration flag's value from the container's environment, or its default.
func durationSetting(env map[string]setting, m *mode, flagName string) time.Duration {
	v := m.Flags.Lookup(flagName).DefValue
	if s, ok := env[config.EnvName(flagName)]; ok && s.literal != nil && *s.literal != "" {
		v = *s.literal
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0 // reported by settings
	}
	return d
}

// A setting is one environment variable of a container, resolved.
type setting struct {
	name string
	// literal holds the value when the manifests give it (value: or a ConfigMap key).
	literal *string
	// from says where it comes from, for messages.
	from string
}

// env resolves a container's environment: envFrom ConfigMaps first, then env, which wins.
func (c *checker) env(where, ns string, ctr *corev1.Container) map[string]setting {
	out := map[string]setting{}
	for _, ef := range ctr.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := c.configMaps[key(ns, ef.ConfigMapRef.Name)]
			if cm == nil {
				if ef.ConfigMapRef.Optional == nil || !*ef.ConfigMapRef.Optional {
					c.problem("%s: envFrom ConfigMap %s: not in the overlay", where, ef.ConfigMapRef.Name)
				}
				continue
			}
			for k, v := range cm.Data {
				v := v
				out[ef.Prefix+k] = setting{name: ef.Prefix + k, literal: &v, from: "ConfigMap " + cm.Name}
			}
		case ef.SecretRef != nil:
			c.problem("%s: envFrom Secret %s: name each key (env valueFrom secretKeyRef), so what is set can be seen and checked", where, ef.SecretRef.Name)
		}
	}
	seen := map[string]bool{}
	for _, e := range ctr.Env {
		if seen[e.Name] {
			c.problem("%s: env %s given twice", where, e.Name)
		}
		seen[e.Name] = true
		s := setting{name: e.Name, from: "env"}
		switch {
		case e.ValueFrom != nil && e.Value != "":
			c.problem("%s: env %s has both value and valueFrom", where, e.Name)
		case e.ValueFrom == nil:
			v := e.Value
			s.literal = &v
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s.from = fmt.Sprintf("Secret %s key %s", ref.Name, ref.Key)
			c.secretRef(fmt.Sprintf("%s: env %s", where, e.Name), ns, ref.Name, ref.Key)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			s.from = fmt.Sprintf("ConfigMap %s key %s", ref.Name, ref.Key)
			cm := c.configMaps[key(ns, ref.Name)]
			if v, ok := cm.Data[ref.Key]; cm != nil && ok {
				s.literal = &v
			} else {
				c.problem("%s: env %s: ConfigMap %s has no key %s", where, e.Name, ref.Name, ref.Key)
			}
		}
		out[e.Name] = s
	}
	return out
}

// settings checks a container's environment against the mode's settings: every variable is one
// the process reads, every required one is set, and literal values parse as the flag does. It
// returns the resolved environment.
func (c *checker) settings(where, ns string, volumes map[string]corev1.Volume, ctr *corev1.Container, m *mode) map[string]setting {
	env := c.env(where, ns, ctr)
	flags := m.env()
	for _, name := range slices.Sorted(maps.Keys(env)) {
		s := env[name]
		f, isFlag := flags[name]
		switch {
		case isFlag:
		case strings.HasPrefix(name, config.Prefix+"_"):
			c.problem("%s: env %s (%s): not a setting of %s", where, name, s.from, m)
			continue
		case m.otherEnv(name):
			continue
		default:
			c.problem("%s: env %s (%s): %s does not read it", where, name, s.from, m)
			continue
		}
		if s.literal == nil {
			continue
		}
		v := *s.literal
		sw := fmt.Sprintf("%s: env %s (%s)", where, name, s.from)
		if v == "" {
			c.problem("%s: empty, which the binary treats as unset: leave it out", sw)
			continue
		}
		// Set parses the value as the binary would; func flags (a public key file, read when
		// set) are checked as files below instead.
		if _, typed := f.Value.(interface{ Get() any }); typed {
			fresh := m.Flags.Lookup(f.Name)
			old := fresh.Value.String()
			if err := fresh.Value.Set(v); err != nil {
				// The flag package says only "parse error" for a duration; say what is wrong.
				if _, isDuration := fresh.Value.(interface{ Get() any }).Get().(time.Duration); isDuration {
					_, err = time.ParseDuration(v)
				}
				c.problem("%s: %q: %v", sw, v, err)
			}
			_ = fresh.Value.Set(old)
		}
		if allowed, ok := m.OneOf[f.Name]; ok {
			if err := config.OneOf(v, allowed...); err != nil {
				c.problem("%s: %v", sw, err)
			}
		}
		if slices.Contains(m.HostPorts, f.Name) {
			if err := config.HostPort(v); err != nil {
				c.problem("%s: %v", sw, err)
			}
		}
		if slices.Contains(m.Files, f.Name) {
			c.file(sw, ns, volumes, ctr, v)
			if slices.Contains(caFlags, f.Name) {
				c.trustBundle(sw, volumes, ctr, v)
			}
		}
		if f.Name == "db-url" {
			c.databaseURL(sw, ns, volumes, ctr, v)
		}
	}
	for _, alts := range m.Required {
		if !slices.ContainsFunc(alts, func(fl string) bool {
			s, ok := env[config.EnvName(fl)]
			return ok && (s.literal == nil || *s.literal != "")
		}) {
			names := make([]string, len(alts))
			for i, fl := range alts {
				names[i] = config.Setting(fl)
			}
			c.problem("%s: %s requires %s", where, m, strings.Join(names, " or "))
		}
	}
	if m.Flags.Lookup(auth.FlagIssuer) != nil {
		c.verifier(where, env)
	}
	c.memoryLimit(where, ctr, env)
	if m.Service != "" && m.Args[0] == "serve" {
		if s, ok := env[config.EnvName("regions")]; ok && s.literal != nil {
			c.district(where, ns, volumes, ctr, *s.literal)
		}
	}
	if m.Service == reporting.RollupName {
		if s, ok := env[config.EnvName("rollup-config")]; ok && s.literal != nil {
			c.rollup(where, ns, volumes, ctr, *s.literal)
		}
	}
	return env
}

// verifier validates the token settings as the service does at start (auth.VerifierConfig).
func (c *checker) verifier(where string, env map[string]setting) {
	get := func(flagName string) (string, bool) {
		s, ok := env[config.EnvName(flagName)]
		if !ok || s.literal == nil {
			return "", ok
		}
		return *s.literal, true
	}
	if _, byFile := get(auth.FlagPublicKeyFile); byFile {
		return // the key file is checked as a mounted file
	}
	var v auth.VerifierConfig
	v.Issuer, _ = get(auth.FlagIssuer)
	v.Audience, _ = get(auth.FlagAudience)
	v.JWKSURL, _ = get(auth.FlagJWKSURL)
	if err := v.Validate(); err != nil {
		c.problem("%s: token verification settings: %v", where, err)
	}
}

// memoryLimit: GOMEMLIMIT must leave the runtime room below the container's memory limit.
func (c *checker) memoryLimit(where string, ctr *corev1.Container, env map[string]setting) {
	s, ok := env["GOMEMLIMIT"]
	if !ok || s.literal == nil {
		return
	}
	n, err := parseGoBytes(*s.literal)
	if err != nil {
		c.problem("%s: env GOMEMLIMIT %q: %v", where, *s.literal, err)
		return
	}
	lim, ok := ctr.Resources.Limits[corev1.ResourceMemory]
	if ok && n >= lim.Value() {
		c.problem("%s: env GOMEMLIMIT %s is not below limits.memory %s", where, *s.literal, lim.String())
	}
}

// parseGoBytes parses a GOMEMLIMIT value: a number of bytes with an optional B, KiB, MiB, GiB
// or TiB suffix.
func parseGoBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want bytes, e.g. 460MiB")
	}
	return n * mult, nil
}

// file checks that path is a file the container has mounted at start: a key of a mounted
// ConfigMap or Secret. It returns the ConfigMap and key when it is one.
func (c *checker) file(where, ns string, volumes map[string]corev1.Volume, ctr *corev1.Container, p string) (cm *corev1.ConfigMap, cmKey string) {
	if !path.IsAbs(p) {
		c.problem("%s: %q: want an absolute path to a mounted file", where, p)
		return nil, ""
	}
	var mount *corev1.VolumeMount
	for i, vm := range ctr.VolumeMounts {
		if strings.HasPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/") && (mount == nil || len(vm.MountPath) > len(mount.MountPath)) {
			mount = &ctr.VolumeMounts[i]
		}
	}
	if mount == nil {
		c.problem("%s: %s: no volume is mounted there", where, p)
		return nil, ""
	}
	rel := strings.TrimPrefix(p, strings.TrimSuffix(mount.MountPath, "/")+"/")
	v, ok := volumes[mount.Name]
	if !ok {
		return nil, "" // reported with the mounts
	}
	// keyAt maps the file name back to the key it is projected from.
	keyAt := func(items []corev1.KeyToPath) string {
		if len(items) == 0 {
			return rel
		}
		for _, it := range items {
			if it.Path == rel {
				return it.Key
			}
		}
		return ""
	}
	switch {
	case v.ConfigMap != nil:
		k := keyAt(v.ConfigMap.Items)
		cm = c.configMaps[key(ns, v.ConfigMap.Name)]
		if bk, ok := c.opts.TrustBundles[v.ConfigMap.Name]; ok && cm == nil {
			// trust-manager writes it into the namespace.
			if k != bk {
				c.problem("%s: %s: the trust bundle %s mounted at %s has only the key %q", where, p, v.ConfigMap.Name, mount.MountPath, bk)
			}
			return nil, ""
		}
		if cm == nil {
			c.problem("%s: %s: ConfigMap %s is not in the overlay", where, p, v.ConfigMap.Name)
			return nil, ""
		}
		if _, ok := cm.Data[k]; k == "" || !ok {
			c.problem("%s: %s: ConfigMap %s mounted at %s has no key %q", where, p, cm.Name, mount.MountPath, rel)
			return nil, ""
		}
		return cm, k
	case v.Secret != nil:
		k := keyAt(v.Secret.Items)
		if k == "" {
			c.problem("%s: %s: Secret %s mounted at %s projects no file %q", where, p, v.Secret.SecretName, mount.MountPath, rel)
			return nil, ""
		}
		c.secretRef(where+": "+p, ns, v.Secret.SecretName, k)
	default:
		c.problem("%s: %s: volume %s is neither a ConfigMap nor a Secret, so the file is not there at start", where, p, mount.Name)
	}
	return nil, ""
}

// databaseURL checks a literal PostgreSQL URL: no password in it (it belongs in a Secret), a
// verified TLS mode, and any certificate file it names mounted.
func (c *checker) databaseURL(where, ns string, volumes map[string]corev1.Volume, ctr *corev1.Container, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		c.problem("%s: want a postgres:// URL", where)
		return
	}
	if _, has := u.User.Password(); has {
		c.problem("%s: the URL holds a password: put the whole URL, or the password (PGPASSWORD), in a Secret", where)
	}
	q := u.Query()
	if mode := q.Get("sslmode"); mode != "verify-full" && mode != "verify-ca" {
		c.problem("%s: sslmode %q: verify the server (verify-full)", where, mode)
	}
	if f := q.Get("sslrootcert"); f != "" {
		c.file(where+": sslrootcert", ns, volumes, ctr, f)
	}
}

// caFlags are the settings naming the CA a process trusts for the internal CA's certificates.
var caFlags = []string{"tls-client-ca", "peer-tls-ca", "upstream-ca"}

// trustBundle checks that a CA file comes from a trust bundle (trust-manager's ConfigMap), not
// from a certificate's own Secret: cert-manager puts in ca.crt only the CA that issued that
// certificate, so while the CA is replaced, a pod reissued by the new one would trust it alone
// and refuse its peers still holding the old one (docs/deploy.md, "Certificate rotation").
func (c *checker) trustBundle(where string, volumes map[string]corev1.Volume, ctr *corev1.Container, p string) {
	var mount *corev1.VolumeMount
	for i, vm := range ctr.VolumeMounts {
		if strings.HasPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/") && (mount == nil || len(vm.MountPath) > len(mount.MountPath)) {
			mount = &ctr.VolumeMounts[i]
		}
	}
	if mount == nil {
		return // reported by file
	}
	if v, ok := volumes[mount.Name]; ok && v.ConfigMap != nil {
		if _, ok := c.opts.TrustBundles[v.ConfigMap.Name]; ok {
			return
		}
	}
	c.problem("%s: %s is not from the internal CA's trust bundle (ConfigMap %v): a certificate's own ca.crt holds only its issuer, so replacing the CA would leave a window with no common trust", where, p, slices.Sorted(maps.Keys(c.opts.TrustBundles)))
}
