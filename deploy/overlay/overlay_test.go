package overlay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/jiayuan/jiayuan/deploy/overlay"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
)

// k8sRoot is deploy/k8s, relative to this package.
const k8sRoot = "../k8s"

// overlays lists every overlay directory, so a district added there is checked without being
// named here.
func overlays(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) < 3 {
		t.Fatalf("overlays: %v, want at least jiangnan, qingxiu and city", out)
	}
	return out
}

// options returns the check options for the tree at root, with the ClusterIssuers and the
// trust bundles its cluster-level kustomization provides.
func options(t *testing.T, root string) overlay.Options {
	t.Helper()
	ca, err := overlay.Load(filepath.Join(root, "cluster", "internal-ca"))
	if err != nil {
		t.Fatal(err)
	}
	opts := overlay.Options{SecretsDir: filepath.Join(root, "secrets"), TrustBundles: map[string]string{}}
	for _, o := range ca.Objects {
		switch v := o.Value.(type) {
		case *overlay.Issuer:
			if o.Kind == "ClusterIssuer" {
				opts.ClusterIssuers = append(opts.ClusterIssuers, o.Name)
			}
		case *overlay.Bundle:
			if v.Spec.Target.ConfigMap != nil {
				opts.TrustBundles[o.Name] = v.Spec.Target.ConfigMap.Key
			}
		}
	}
	return opts
}

// loadAll renders and checks every overlay under root, and all of them together, returning
// every problem found.
func loadAll(t *testing.T, root string) error {
	t.Helper()
	opts := options(t, root)
	var (
		all  []*overlay.Rendered
		errs []error
	)
	for _, name := range overlays(t, root) {
		r, err := overlay.Load(filepath.Join(root, "overlays", name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, r.Check(opts))
		all = append(all, r)
	}
	return errors.Join(append(errs, overlay.CheckAll(all))...)
}

func TestOverlays(t *testing.T) {
	opts := options(t, k8sRoot)
	if !slices.Contains(opts.ClusterIssuers, "jiayuan-internal-ca") {
		t.Fatalf("cluster/internal-ca provides %v", opts.ClusterIssuers)
	}
	var all []*overlay.Rendered
	for _, name := range overlays(t, k8sRoot) {
		t.Run(name, func(t *testing.T) {
			r, err := overlay.Load(filepath.Join(k8sRoot, "overlays", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Check(opts); err != nil {
				t.Fatal(err)
			}
			all = append(all, r)
		})
	}
	if err := overlay.CheckAll(all); err != nil {
		t.Fatal(err)
	}
}

// find returns the rendered object of that kind and name, failing the test when missing.
func find[T any](t *testing.T, r *overlay.Rendered, kind, name string) T {
	t.Helper()
	for _, o := range r.Objects {
		if o.Kind == kind && o.Name == name {
			return o.Value.(T)
		}
	}
	t.Fatalf("%s: no %s %s", r.Dir, kind, name)
	var zero T
	return zero
}

func load(t *testing.T, name string) *overlay.Rendered {
	t.Helper()
	r, err := overlay.Load(filepath.Join(k8sRoot, "overlays", name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDistricts pins what each overlay is: the namespace, the district code, the region tree
// and rules (Jiangnan's are the demo ones), the components it uses.
func TestDistricts(t *testing.T) {
	for _, tc := range []struct {
		overlay, namespace, code string
		postgres, tls            bool
	}{
		{"jiangnan", "jiayuan-jiangnan", "450105", true, true},
		{"qingxiu", "jiayuan-qingxiu", "450103", false, false},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			r := load(t, tc.overlay)
			ns := find[*corev1.Namespace](t, r, "Namespace", tc.namespace)
			if ns.Labels["jiayuan.io/district"] != tc.code {
				t.Errorf("namespace labels %v", ns.Labels)
			}
			dir := filepath.Join(k8sRoot, "overlays", tc.overlay)
			tree, err := region.Load(filepath.Join(dir, "regions.yaml"))
			if err != nil || tree.Root().Code != tc.code {
				t.Fatalf("regions.yaml: %v, %v", tree, err)
			}
			dr, err := rules.Load(filepath.Join(dir, "rules.yaml"))
			if err != nil || dr.District() != tc.code {
				t.Fatalf("rules.yaml: %v", err)
			}
			hasCluster := slices.ContainsFunc(r.Objects, func(o overlay.Object) bool { return o.Kind == "Cluster" })
			hasCerts := slices.ContainsFunc(r.Objects, func(o overlay.Object) bool { return o.Kind == "Certificate" })
			if hasCluster != tc.postgres || hasCerts != tc.tls {
				t.Errorf("PostgreSQL cluster %v, certificates %v; want %v, %v", hasCluster, hasCerts, tc.postgres, tc.tls)
			}
			for _, svc := range overlay.Services() {
				d := find[*appsv1.Deployment](t, r, "Deployment", svc)
				if got := d.Spec.Template.Spec.InitContainers; len(got) != 1 || !slices.Equal(got[0].Args, []string{"migrate", svc}) {
					t.Errorf("%s init containers: %+v", svc, got)
				}
			}
		})
	}

	// Jiangnan ships exactly the demo tree and rules the code embeds.
	dir := filepath.Join(k8sRoot, "overlays", "jiangnan")
	for file, want := range map[string][]byte{"regions.yaml": region.DemoYAML(), "rules.yaml": rules.DemoYAML()} {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("overlays/jiangnan/%s differs from the embedded demo (%v): copy it again", file, err)
		}
	}
}

// TestSecretExamples: every example file documents a Secret some overlay uses, and the
// hand-made Secrets are exactly the ones each overlay's setup needs.
func TestSecretExamples(t *testing.T) {
	opts := options(t, k8sRoot)
	used := map[string]bool{}
	want := map[string][]string{
		"jiangnan": {"contract-db-credentials", "contract-peer-token", "demand-db-credentials", "demand-notify-webhook", "demand-peer-token", "demand-personal-data-keys", "demand-photo-store", "demand-photo-url-key",
			"escalation-db-credentials", "escalation-notify-webhook", "escalation-peer-token", "jiayuan-pg-backup", "partner-db-credentials", "partner-peer-token", "partner-personal-data-keys", "reporting-db-credentials", "reporting-peer-token"},
		"qingxiu": {"contract-db", "contract-peer-token", "demand-db", "demand-notify-webhook", "demand-peer-token", "demand-personal-data-keys", "demand-photo-store", "demand-photo-url-key",
			"escalation-db", "escalation-notify-webhook", "escalation-peer-token", "partner-db", "partner-peer-token", "partner-personal-data-keys", "reporting-db", "reporting-peer-token"},
		"city": {"reporting-rollup-district-tokens"},
	}
	for _, name := range overlays(t, k8sRoot) {
		got := load(t, name).HandMadeSecrets(opts)
		if w, ok := want[name]; ok && !slices.Equal(got, w) {
			t.Errorf("%s: hand-made Secrets %v, want %v", name, got, w)
		}
		for _, s := range got {
			used[s] = true
		}
	}
	files, err := filepath.Glob(filepath.Join(k8sRoot, "secrets", "*.example.env"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example files: %v", err)
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".example.env"); !used[name] {
			t.Errorf("%s: no overlay uses Secret %s: remove the file or the overlay lost a reference", f, name)
		}
	}
}

// TestKubectlAgrees renders every overlay with `kubectl kustomize` too, when kubectl is
// installed, and requires the same objects: districts apply with `kubectl apply -k`, whose
// kustomize may differ from the library this module pins.
func TestKubectlAgrees(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed; the library rendering is checked by TestOverlays")
	}
	for _, name := range overlays(t, k8sRoot) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(k8sRoot, "overlays", name)
			out, err := exec.Command(kubectl, "kustomize", dir).Output()
			if err != nil {
				t.Fatalf("kubectl kustomize %s: %v", dir, err)
			}
			docs, err := overlay.Render(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := canonical(t, splitDocs(out)), canonical(t, docs); !slices.Equal(got, want) {
				t.Errorf("kubectl and the library render %s differently:\nkubectl: %d objects\nlibrary: %d objects\nfirst difference:\n%s", dir, len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), data...), []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

// canonical turns documents into sorted canonical JSON, so that order and formatting do not
// count.
func canonical(t *testing.T, docs [][]byte) []string {
	t.Helper()
	var out []string
	for _, d := range docs {
		var v any
		if err := yaml.Unmarshal(d, &v); err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(j))
	}
	sort.Strings(out)
	return out
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + "\n" + b[i]
		}
	}
	return "(one is a prefix of the other)"
}

// TestNetwork walks the network policies of all overlays together: what must get through does,
// and what must not does not.
func TestNetwork(t *testing.T) {
	all := []*overlay.Rendered{load(t, "jiangnan"), load(t, "qingxiu"), load(t, "city")}
	n := overlay.NewNetwork(all...)
	pod := func(ns, name string) overlay.Pod {
		for _, p := range n.Pods() {
			if p.Namespace == ns && p.Name == name {
				return p
			}
		}
		t.Fatalf("no pod %s/%s", ns, name)
		return overlay.Pod{}
	}
	var (
		jnGateway  = pod("jiayuan-jiangnan", "gateway")
		jnPartner  = pod("jiayuan-jiangnan", "partner")
		jnDemand   = pod("jiayuan-jiangnan", "demand")
		qxDemand   = pod("jiayuan-qingxiu", "demand")
		jnPG       = pod("jiayuan-jiangnan", "jiayuan-pg")
		qxGateway  = pod("jiayuan-qingxiu", "gateway")
		qxPartner  = pod("jiayuan-qingxiu", "partner")
		cityJN     = pod("jiayuan-city", "gateway-jiangnan")
		cityQX     = pod("jiayuan-city", "gateway-qingxiu")
		rollup     = pod("jiayuan-city", "reporting-rollup")
		jnReports  = pod("jiayuan-jiangnan", "reporting")
		qxReports  = pod("jiayuan-qingxiu", "reporting")
		stranger   = n.Pod("stranger", "jiayuan-jiangnan", map[string]string{"app": "debug"}, nil)
		elsewhere  = n.Pod("other", "default", map[string]string{"jiayuan.io/calls-partner": "true"}, nil)
		ingress    = overlay.Pod{Name: "ingress", Namespace: "ingress", NamespaceLabels: map[string]string{"jiayuan.io/ingress-controller": "true"}}
		operator   = overlay.Pod{Name: "cnpg", Namespace: "cnpg-system", NamespaceLabels: map[string]string{"jiayuan.io/postgresql-operator": "true"}}
		dns        = n.Pod("kube-dns", "kube-system", map[string]string{"k8s-app": "kube-dns"}, nil)
		tcp, udp   = corev1.ProtocolTCP, corev1.ProtocolUDP
		gRPC, http = int32(9090), int32(8080)
	)
	for _, tc := range []struct {
		name     string
		from, to overlay.Pod
		proto    corev1.Protocol
		port     int32
		allowed  bool
	}{
		{"ingress controller to the gateway", ingress, jnGateway, tcp, http, true},
		{"ingress controller to a service", ingress, jnPartner, tcp, gRPC, false},
		{"gateway to partner", jnGateway, jnPartner, tcp, gRPC, true},
		{"gateway to partner on another port", jnGateway, jnPartner, tcp, 9091, false},
		{"gateway to PostgreSQL", jnGateway, jnPG, tcp, 5432, false},
		{"partner to PostgreSQL", jnPartner, jnPG, tcp, 5432, true},
		{"partner to the gateway", jnPartner, jnGateway, tcp, http, false},
		{"the operator to PostgreSQL", operator, jnPG, tcp, 8000, true},
		{"an unlabelled pod to partner", stranger, jnPartner, tcp, gRPC, false},
		{"an unlabelled pod to PostgreSQL", stranger, jnPG, tcp, 5432, false},
		{"a caller in another namespace to partner", elsewhere, jnPartner, tcp, gRPC, false},
		{"one district's gateway to another's partner", jnGateway, qxPartner, tcp, gRPC, false},
		{"Qingxiu's gateway to its partner", qxGateway, qxPartner, tcp, gRPC, true},
		{"the city's Jiangnan gateway to Jiangnan's partner", cityJN, jnPartner, tcp, gRPC, true},
		{"the city's Jiangnan gateway to Qingxiu's partner", cityJN, qxPartner, tcp, gRPC, false},
		{"the city's Qingxiu gateway to Qingxiu's partner", cityQX, qxPartner, tcp, gRPC, true},
		{"the city's gateway to a district's PostgreSQL", cityJN, jnPG, tcp, 5432, false},
		{"gateway to demand", jnGateway, jnDemand, tcp, gRPC, true},
		{"demand to partner", jnDemand, jnPartner, tcp, gRPC, true},
		{"Qingxiu's demand to its partner", qxDemand, qxPartner, tcp, gRPC, true},
		{"partner to demand", jnPartner, jnDemand, tcp, gRPC, false},
		{"demand to the gateway", jnDemand, jnGateway, tcp, http, false},
		{"demand to PostgreSQL", jnDemand, jnPG, tcp, 5432, true},
		{"one district's demand to another's partner", jnDemand, qxPartner, tcp, gRPC, false},
		{"an unlabelled pod to demand", stranger, jnDemand, tcp, gRPC, false},
		{"the city's Jiangnan gateway to Jiangnan's demand", cityJN, jnDemand, tcp, gRPC, true},
		{"the city's Qingxiu gateway to Jiangnan's demand", cityQX, jnDemand, tcp, gRPC, false},
		{"the city's rollup to Jiangnan's reporting", rollup, jnReports, tcp, gRPC, true},
		{"the city's rollup to Qingxiu's reporting", rollup, qxReports, tcp, gRPC, true},
		{"the city's rollup to Jiangnan's demand", rollup, jnDemand, tcp, gRPC, false},
		{"the city's rollup to a district's PostgreSQL", rollup, jnPG, tcp, 5432, false},
		{"partner to DNS", jnPartner, dns, udp, 53, true},
		{"partner to DNS over the wrong port", jnPartner, dns, udp, 5353, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := n.Allowed(tc.from, tc.to, tc.proto, tc.port)
			if (err == nil) != tc.allowed {
				t.Errorf("Allowed(%s/%s → %s/%s %s %d) = %v, want allowed %v", tc.from.Namespace, tc.from.Name, tc.to.Namespace, tc.to.Name, tc.proto, tc.port, err, tc.allowed)
			}
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{
			name: "misspelt Deployment field",
			doc:  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicaz: 2\n",
			want: `Deployment x: strict decoding error: unknown field "spec.replicaz"`,
		},
		{
			name: "duplicate field",
			doc:  "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  type: ClusterIP\n  type: NodePort\n",
			want: `Service x:`,
		},
		{
			name: "misspelt Certificate field",
			doc:  "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: x}\nspec:\n  secretName: x\n  issuerRef: {name: ca}\n  dnsName: [a]\n",
			want: `Certificate x: json: unknown field "dnsName"`,
		},
		{
			name: "misspelt Cluster field",
			doc:  "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: pg}\nspec:\n  instancez: 3\n  storage: {size: 1Gi}\n",
			want: `Cluster pg: json: unknown field "instancez"`,
		},
		{
			name: "unknown kind",
			doc:  "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
			want: "Widget w: unknown kind example.com/v1, Kind=Widget",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := overlay.Decode([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	o, err := overlay.Decode([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\ndata: {a: b}\n"))
	if err != nil || o.Value.(*corev1.ConfigMap).Data["a"] != "b" || o.String() != "ConfigMap ns/c" {
		t.Fatalf("Decode(ConfigMap) = %+v, %v", o, err)
	}
}

// copyTree copies deploy/k8s into a temporary directory, to break a copy of an overlay.
func copyTree(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "k8s")
	err := filepath.WalkDir(k8sRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(k8sRoot, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// edit replaces old by new in file (under root), failing unless old is there exactly once, so a
// case cannot silently test the unbroken tree.
func edit(t *testing.T, root, file, old, new string) {
	t.Helper()
	p := filepath.Join(root, file)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), old); n != 1 {
		t.Fatalf("%s holds %q %d times, want once", file, old, n)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrokenOverlays breaks a copy of the tree in one way each and requires the check to fail
// with a message naming the file or object and the key.
func TestBrokenOverlays(t *testing.T) {
	type change struct{ file, old, new string }
	for _, tc := range []struct {
		name    string
		changes []change
		// want are substrings of the error; {root} is the copied tree's directory.
		want []string
	}{
		{
			name: "malformed region tree",
			changes: []change{{"overlays/jiangnan/regions.yaml",
				"      - code: \"450105001001\"\n        name: 二桥西社区", "      - code: \"4501050019\"\n        name: 二桥西社区"}},
			want: []string{`{root}/overlays/jiangnan/regions.yaml: node 450105001 (江南街道): children[0].code "4501050019": must be its parent's code plus 3 digits`},
		},
		{
			name:    "colour rule naming an unknown category",
			changes: []change{{"overlays/qingxiu/rules.yaml", "{category: MEDICAL,", "{category: PARKING,"}},
			want:    []string{`{root}/overlays/qingxiu/rules.yaml: colour_rules[3].category: unknown category "PARKING"`},
		},
		{
			name:    "rules of another district",
			changes: []change{{"overlays/qingxiu/rules.yaml", `district: "450103"`, `district: "450105"`}},
			want:    []string{`{root}/overlays/qingxiu/rules.yaml: district: "450105" is not the region tree's district "450103"`},
		},
		{
			name:    "no rules next to the region tree",
			changes: []change{{"overlays/qingxiu/kustomization.yaml", "      - regions.yaml\n      - rules.yaml\n", "      - regions.yaml\n"}},
			want:    []string{"no rules.yaml next to regions.yaml"},
		},
		{
			name:    "misspelt field",
			changes: []change{{"base/partner/deployment.yaml", "  revisionHistoryLimit: 5\n", "  revisionHistoryLimit: 5\n  replicaz: 2\n"}},
			want:    []string{`Deployment jiayuan-jiangnan/partner: strict decoding error: unknown field "spec.replicaz"`},
		},
		{
			name:    "latest image",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "newTag: v0.1.0", "newTag: latest"}},
			want:    []string{`Deployment jiayuan-jiangnan/partner: container partner: image "registry.jiangnan.example/jiayuan/jiayuan:latest": the latest tag moves`},
		},
		{
			name:    "untagged image",
			changes: []change{{"overlays/qingxiu/kustomization.yaml", "    newTag: v0.1.0\n", ""}},
			want:    []string{`Deployment jiayuan-qingxiu/gateway: container gateway: image "registry.qingxiu.example/jiayuan/jiayuan": no tag`},
		},
		{
			name:    "a variable the binary does not define",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "      - JIAYUAN_AUTH_AUDIENCE=jiayuan-jiangnan\n", "      - JIAYUAN_AUTH_AUDIENCE=jiayuan-jiangnan\n      - JIAYUAN_AUTH_AUDIENCES=jiayuan\n"}},
			want:    []string{"Deployment jiayuan-jiangnan/partner: container partner: env JIAYUAN_AUTH_AUDIENCES (ConfigMap jiayuan-auth-", "): not a setting of `jiayuan serve partner`"},
		},
		{
			name:    "a variable for another command",
			changes: []change{{"base/gateway/kustomization.yaml", "      - JIAYUAN_PARTNER_ADDR=partner:9090\n", "      - JIAYUAN_PARTNER_ADDR=partner:9090\n      - JIAYUAN_DB_URL=postgres://x\n"}},
			want:    []string{"container gateway: env JIAYUAN_DB_URL (ConfigMap gateway-", "): not a setting of `jiayuan serve gateway`"},
		},
		{
			name:    "a variable nothing reads",
			changes: []change{{"base/common/kustomization.yaml", "      - JIAYUAN_LOG_LEVEL=info\n", "      - JIAYUAN_LOG_LEVEL=info\n      - LOG_LEVEL=debug\n"}},
			want:    []string{"Deployment jiayuan-jiangnan/partner: container partner: env LOG_LEVEL (ConfigMap jiayuan-telemetry-", "): `jiayuan serve partner` does not read it"},
		},
		{
			name:    "a required setting missing",
			changes: []change{{"overlays/qingxiu/kustomization.yaml", "      - JIAYUAN_AUTH_AUDIENCE=jiayuan-qingxiu\n", ""}},
			want:    []string{"Deployment jiayuan-qingxiu/partner: container partner: `jiayuan serve partner` requires JIAYUAN_AUTH_AUDIENCE (--auth-audience)"},
		},
		{
			name:    "a gateway without a service's address",
			changes: []change{{"base/gateway/kustomization.yaml", "    literals:\n      - JIAYUAN_PARTNER_ADDR=partner:9090\n", "    literals:\n      - JIAYUAN_HTTP_LISTEN=:8080\n"}},
			want:    []string{"container gateway: `jiayuan serve gateway` requires JIAYUAN_PARTNER_ADDR (--partner-addr)"},
		},
		{
			name:    "a value the flag rejects",
			changes: []change{{"base/partner/deployment.yaml", "              value: 5s\n", "              value: \"5\"\n"}},
			want:    []string{`env JIAYUAN_DRAIN_DELAY (env): "5": time: missing unit in duration "5"`},
		},
		{
			name:    "keys fetched over plain http",
			changes: []change{{"overlays/qingxiu/kustomization.yaml", "JIAYUAN_AUTH_JWKS_URL=https://sso.qingxiu.example/oidc/jwks", "JIAYUAN_AUTH_JWKS_URL=http://sso.qingxiu.example/oidc/jwks"}},
			want:    []string{"container partner: token verification settings:", "must be https"},
		},
		{
			name:    "a region tree path nothing mounts",
			changes: []change{{"base/partner/deployment.yaml", "value: /etc/jiayuan/district/regions.yaml", "value: /etc/jiayuan/regions.yaml"}},
			want:    []string{"env JIAYUAN_REGIONS (env): /etc/jiayuan/regions.yaml: no volume is mounted there"},
		},
		{
			name:    "probe on an undeclared port",
			changes: []change{{"base/partner/deployment.yaml", "          readinessProbe:\n            grpc:\n              port: 9090\n", "          readinessProbe:\n            grpc:\n              port: 9091\n"}},
			want:    []string{"Deployment jiayuan-qingxiu/partner: container partner: readinessProbe targets port 9091, which the container does not declare"},
		},
		{
			name:    "no liveness probe",
			changes: []change{{"base/gateway/deployment.yaml", "          livenessProbe:\n            httpGet:\n              path: /openapi.json\n              port: http\n            periodSeconds: 10\n            timeoutSeconds: 2\n            failureThreshold: 3\n", ""}},
			want:    []string{"Deployment jiayuan-jiangnan/gateway: container gateway: no livenessProbe"},
		},
		{
			name:    "grace period shorter than the drain",
			changes: []change{{"base/partner/deployment.yaml", "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 25"}},
			want:    []string{"container partner: terminationGracePeriodSeconds 25s is not longer than the 25s `jiayuan serve partner` needs"},
		},
		{
			name:    "no limits",
			changes: []change{{"base/gateway/deployment.yaml", "            limits:\n              cpu: \"1\"\n              memory: 256Mi\n", ""}},
			want:    []string{"Deployment jiayuan-qingxiu/gateway: container gateway: resources: set both requests.cpu and limits.cpu"},
		},
		{
			name:    "GOMEMLIMIT above the limit",
			changes: []change{{"base/gateway/deployment.yaml", "value: 230MiB", "value: 300MiB"}},
			want:    []string{"env GOMEMLIMIT 300MiB is not below limits.memory 256Mi"},
		},
		{
			name: "writable root filesystem and escalation",
			changes: []change{{"base/partner/deployment.yaml",
				"      containers:\n        - name: partner\n", "      containers:\n        - name: partner\n"},
				{"base/gateway/deployment.yaml", "            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n", "            allowPrivilegeEscalation: true\n"}},
			want: []string{"container gateway: securityContext.allowPrivilegeEscalation must be false", "container gateway: securityContext.readOnlyRootFilesystem must be true"},
		},
		{
			name:    "seccomp off",
			changes: []change{{"base/gateway/deployment.yaml", "        seccompProfile:\n          type: RuntimeDefault\n", ""}},
			want:    []string{"Deployment jiayuan-city/gateway-jiangnan: container gateway: seccompProfile must be RuntimeDefault"},
		},
		{
			name:    "no default deny",
			changes: []change{{"base/common/networkpolicies.yaml", "  name: default-deny\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n", "  name: default-deny\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n"}},
			want:    []string{"namespace jiayuan-jiangnan: no default-deny NetworkPolicy", "namespace jiayuan-city: no default-deny NetworkPolicy"},
		},
		{
			name:    "a policy whose selector matches nothing",
			changes: []change{{"components/city-access/networkpolicies.yaml", "      app.kubernetes.io/name: partner\n  policyTypes", "      app.kubernetes.io/name: partners\n  policyTypes"}},
			want:    []string{"NetworkPolicy jiayuan-jiangnan/partner-from-city: podSelector map[app.kubernetes.io/name:partners] selects no pod"},
		},
		{
			name:    "the gateway not labelled as partner's caller",
			changes: []change{{"base/gateway/deployment.yaml", "        jiayuan.io/calls-partner: \"true\"\n", ""}},
			// (partner-callers still selects demand's pods, so it is not reported as selecting none.)
			want: []string{
				"Deployment jiayuan-jiangnan/gateway: JIAYUAN_PARTNER_ADDR=partner:9090: no NetworkPolicy in jiayuan-jiangnan lets gateway send to jiayuan-jiangnan/partner on TCP 9090",
				"Deployment jiayuan-city/gateway-qingxiu: JIAYUAN_PARTNER_ADDR=partner.jiayuan-qingxiu.svc:9090: no NetworkPolicy in jiayuan-qingxiu lets jiayuan-city/gateway-qingxiu reach partner on TCP 9090",
			},
		},
		{
			name:    "the city's gateway pointing nowhere",
			changes: []change{{"overlays/city/qingxiu/kustomization.yaml", "JIAYUAN_PARTNER_ADDR=partner.jiayuan-qingxiu.svc:9090", "JIAYUAN_PARTNER_ADDR=partner.jiayuan-qingxiu-old.svc:9090"}},
			want:    []string{"Deployment jiayuan-city/gateway-qingxiu: JIAYUAN_PARTNER_ADDR=partner.jiayuan-qingxiu-old.svc:9090: no overlay has a Service partner in namespace jiayuan-qingxiu-old"},
		},
		{
			name:    "the city's rollup counting a district the city does not have",
			changes: []change{{"overlays/city/rollup.yaml", "address: reporting.jiayuan-qingxiu.svc:9090", "address: reporting.jiayuan-xixiangtang.svc:9090"}},
			want: []string{"Deployment jiayuan-city/reporting-rollup: /etc/jiayuan/rollup/rollup.yaml: districts[1] (450103 青秀区) address reporting.jiayuan-xixiangtang.svc:9090: " +
				"no overlay has a Service reporting in namespace jiayuan-xixiangtang: the city has no such district's reporting service"},
		},
		{
			name:    "the city's rollup naming one district for another",
			changes: []change{{"overlays/city/rollup.yaml", "address: reporting.jiayuan-qingxiu.svc:9090", "address: reporting.jiayuan-jiangnan.svc:9090"}},
			want:    []string{`districts[1] (450103 青秀区) address reporting.jiayuan-jiangnan.svc:9090: namespace jiayuan-jiangnan is district "450105"'s, not 450103's`},
		},
		{
			name:    "the city's rollup pointed at a district's other service",
			changes: []change{{"overlays/city/rollup.yaml", "address: reporting.jiayuan-qingxiu.svc:9090", "address: partner.jiayuan-qingxiu.svc:9090"}},
			want:    []string{"districts[1] (450103 青秀区) address partner.jiayuan-qingxiu.svc:9090: Deployment jiayuan-qingxiu/partner behind it does not run `jiayuan serve reporting`"},
		},
		{
			name: "the city's rollup without a network path to a district",
			changes: []change{{"overlays/city/networkpolicies.yaml", "  name: reporting-rollup-qingxiu-egress\nspec:\n  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: reporting-rollup\n",
				"  name: reporting-rollup-qingxiu-egress\nspec:\n  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: reporting-rollup-old\n"}},
			want: []string{"Deployment jiayuan-city/reporting-rollup: /etc/jiayuan/rollup/rollup.yaml: districts[1] (450103 青秀区) address reporting.jiayuan-qingxiu.svc:9090: " +
				"no NetworkPolicy in jiayuan-city lets reporting-rollup send to jiayuan-qingxiu/reporting on TCP 9090"},
		},
		{
			name:    "a district not letting the city's rollup in",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", ",gateway-jiangnan.jiayuan-city.svc,reporting-rollup.jiayuan-city.svc\n", ",gateway-jiangnan.jiayuan-city.svc\n"}},
			want:    []string{"districts[0] (450105 江南区) address reporting.jiayuan-jiangnan.svc:9090: Certificate jiayuan-city/reporting-rollup-tls (dnsNames", "names none of jiayuan-jiangnan/reporting's JIAYUAN_TLS_CLIENT_NAMES"},
		},
		{
			name:    "the city's rollup dialling a plaintext district over TLS",
			changes: []change{{"overlays/city/rollup.yaml", "    plaintext: true\n", ""}},
			want:    []string{"districts[1] (450103 青秀区) address reporting.jiayuan-qingxiu.svc:9090: reporting-rollup dials TLS but jiayuan-qingxiu/reporting serves plaintext"},
		},
		{
			name:    "the city's rollup with a district's token not documented",
			changes: []change{{"secrets/reporting-rollup-district-tokens.example.env", "450103=CHANGE-ME\n", ""}},
			want:    []string{"rollup.yaml: districts[1] (450103 青秀区) token_file: /etc/jiayuan/district-tokens/450103: Secret reporting-rollup-district-tokens has no key \"450103\""},
		},
		{
			name:    "a malformed rollup file",
			changes: []change{{"overlays/city/rollup.yaml", "deadline: 3s", "deadline: 3 minutes"}},
			want:    []string{`{root}/overlays/city/rollup.yaml: deadline "3 minutes"`},
		},
		{
			name:    "the city's gateway dialling TLS in plaintext",
			changes: []change{{"overlays/city/jiangnan/kustomization.yaml", "components:\n  - ../../../components/cert-manager-tls-gateway\n", ""}},
			want:    []string{"Deployment jiayuan-city/gateway-jiangnan: JIAYUAN_PARTNER_ADDR=partner.jiayuan-jiangnan.svc:9090: jiayuan-jiangnan/partner serves TLS but the gateway dials in plaintext"},
		},
		{
			name:    "certificate names not filled in",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "          index: 1\n", "          index: 0\n"}},
			want:    []string{"Certificate jiayuan-jiangnan/partner-tls: dnsNames \"jiayuan-jiangnan.NAMESPACE.svc\": NAMESPACE was not replaced"},
		},
		{
			name:    "a Secret key nobody documents",
			changes: []change{{"components/cloudnative-pg/objectstore.yaml", "key: ACCESS_SECRET_KEY", "key: SECRET_ACCESS_KEY"}},
			want:    []string{"ObjectStore jiayuan-jiangnan/jiayuan-pg-backups: s3Credentials.secretAccessKey: Secret jiayuan-pg-backup has no key \"SECRET_ACCESS_KEY\""},
		},
		{
			name:    "a placeholder left in",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "      - {op: replace, path: /spec/configuration/endpointURL, value: \"https://oss.jiangnan.example\"}\n", ""}},
			want:    []string{"ObjectStore jiayuan-jiangnan/jiayuan-pg-backups: still holds a placeholder"},
		},
		{
			name:    "a database the cluster does not have",
			changes: []change{{"components/cloudnative-pg/databases.yaml", "  name: partner\n  owner: partner\n", "  name: partners\n  owner: partner\n"}},
			want:    []string{"container partner connects to database \"partner\" as \"partner\" on Cluster jiayuan-pg, which has no Database \"partner\" owned by \"partner\""},
		},
		{
			name:    "one replica",
			changes: []change{{"overlays/qingxiu/kustomization.yaml", "      name: partner\n    patch: |-\n      - {op: replace, path: /spec/minReplicas, value: 2}\n", "      name: partner\n    patch: |-\n      - {op: replace, path: /spec/minReplicas, value: 1}\n"}},
			want:    []string{"HorizontalPodAutoscaler jiayuan-qingxiu/partner: minReplicas must be at least 2"},
		},
		{
			name:    "a service without its peer token",
			changes: []change{{"base/demand/deployment.yaml", "            - name: JIAYUAN_PEER_TOKEN_FILE\n              value: /etc/jiayuan/peer-token/token\n", ""}},
			want:    []string{"Deployment jiayuan-qingxiu/demand: container demand: `jiayuan serve demand` requires JIAYUAN_PEER_TOKEN_FILE (--peer-token-file)"},
		},
		{
			name:    "a service without its personal data keys",
			changes: []change{{"base/partner/deployment.yaml", "            - name: JIAYUAN_PERSONAL_DATA_KEYS\n              value: /etc/jiayuan/personal-data-keys/keys.json\n", ""}},
			want:    []string{"Deployment jiayuan-qingxiu/partner: container partner: `jiayuan serve partner` requires JIAYUAN_PERSONAL_DATA_KEYS (--personal-data-keys)"},
		},
		{
			name:    "personal data keys from a Secret nobody documents",
			changes: []change{{"base/demand/deployment.yaml", "secretName: demand-personal-data-keys", "secretName: demand-keys"}},
			want:    []string{"Deployment jiayuan-jiangnan/demand: container demand: env JIAYUAN_PERSONAL_DATA_KEYS (env): /etc/jiayuan/personal-data-keys/keys.json: Secret demand-keys: no operator makes it"},
		},
		{
			name:    "a peer token Secret nobody documents",
			changes: []change{{"base/demand/deployment.yaml", "secretName: demand-peer-token", "secretName: demand-token"}},
			want:    []string{"Deployment jiayuan-jiangnan/demand: container demand: env JIAYUAN_PEER_TOKEN_FILE (env): /etc/jiayuan/peer-token/token: Secret demand-token: no operator makes it"},
		},
		{
			name:    "a service not labelled as its peer's caller",
			changes: []change{{"base/demand/deployment.yaml", "        jiayuan.io/calls-partner: \"true\"\n", ""}},
			want:    []string{"Deployment jiayuan-jiangnan/demand: JIAYUAN_PARTNER_ADDR=partner:9090: no NetworkPolicy in jiayuan-jiangnan lets demand send to jiayuan-jiangnan/partner on TCP 9090"},
		},
		{
			name:    "a service's peer address naming the wrong service",
			changes: []change{{"base/demand/deployment.yaml", "              value: partner:9090\n", "              value: gateway:80\n"}},
			want:    []string{"Deployment jiayuan-qingxiu/demand: JIAYUAN_PARTNER_ADDR=gateway:80: Deployment jiayuan-qingxiu/gateway behind it does not run `jiayuan serve partner`"},
		},
		{
			name: "a service calling a TLS peer in plaintext",
			changes: []change{{"components/cert-manager-tls/patches/demand.yaml",
				"            - name: JIAYUAN_PEER_TLS_CA\n              value: /etc/jiayuan/ca/ca.crt\n", ""}},
			want: []string{"Deployment jiayuan-jiangnan/demand: JIAYUAN_PARTNER_ADDR=partner:9090: jiayuan-jiangnan/partner serves TLS but demand dials in plaintext (set JIAYUAN_PEER_TLS_CA)"},
		},
		{
			name: "a service presenting no client certificate to its peer",
			changes: []change{{"components/cert-manager-tls/patches/demand.yaml",
				"            - name: JIAYUAN_PEER_TLS_CERT\n              value: /etc/jiayuan/tls/tls.crt\n            - name: JIAYUAN_PEER_TLS_KEY\n              value: /etc/jiayuan/tls/tls.key\n", ""}},
			want: []string{"jiayuan-jiangnan/partner requires client certificates but demand presents none (JIAYUAN_PEER_TLS_CERT, JIAYUAN_PEER_TLS_KEY)"},
		},
		{
			name: "a password in a literal URL",
			changes: []change{{"components/cloudnative-pg/patches/partner.yaml",
				"        - name: partner\n          env:\n            - name: JIAYUAN_DB_URL\n              value: postgres://partner@",
				"        - name: partner\n          env:\n            - name: JIAYUAN_DB_URL\n              value: postgres://partner:hunter2@"}},
			want: []string{"Deployment jiayuan-jiangnan/partner: container partner: env JIAYUAN_DB_URL (env): the URL holds a password"},
		},
		{
			name:    "more PostgreSQL connections at the autoscalers' maximum than the cluster takes",
			changes: []change{{"components/cloudnative-pg/cluster.yaml", "max_connections: \"300\"", "max_connections: \"100\""}},
			want:    []string{"Cluster jiayuan-jiangnan/jiayuan-pg: max_connections 100 is below the 261 connections the services may open at their autoscalers' maximum (partner 56, demand 56, escalation 40, contract 40, reporting 56: (maxReplicas + maxSurge) × 2 pools × pool size; 13 reserved)"},
		},
		{
			name:    "a pool size that breaks the budget",
			changes: []change{{"base/partner/deployment.yaml", "            - name: JIAYUAN_DRAIN_DELAY\n", "            - name: JIAYUAN_DB_POOL_SIZE\n              value: \"32\"\n            - name: JIAYUAN_DRAIN_DELAY\n"}},
			want:    []string{"Cluster jiayuan-jiangnan/jiayuan-pg: max_connections 300 is below the 653 connections the services may open at their autoscalers' maximum (partner 448, demand 56, escalation 40"},
		},
		{
			name:    "a second district reached over mutual TLS from the city",
			changes: []change{{"overlays/city/qingxiu/kustomization.yaml", "resources:\n  - ../../../base/gateway\n", "resources:\n  - ../../../base/gateway\ncomponents:\n  - ../../../components/cert-manager-tls-gateway\n"}},
			want: []string{
				`Certificate jiayuan-city/gateway-tls-qingxiu: dnsNames "gateway.jiayuan-city.svc": no Service gateway in namespace jiayuan-city`,
				"Deployment jiayuan-city/gateway-qingxiu: JIAYUAN_PARTNER_ADDR=partner.jiayuan-qingxiu.svc:9090: the gateway dials TLS but jiayuan-qingxiu/partner serves plaintext",
			},
		},
		{
			name:    "two certificates writing one Secret",
			changes: []change{{"components/cert-manager-tls/certificates.yaml", "  secretName: demand-tls\n", "  secretName: partner-tls\n"}},
			want:    []string{"Certificate jiayuan-jiangnan/demand-tls: secretName partner-tls is also Certificate partner-tls's"},
		},
		{
			name:    "PostgreSQL pulled from the internet",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "  - name: ghcr.io/cloudnative-pg/postgresql\n", "  - name: ghcr.io/cloudnative-pg/postgresql-other\n"}},
			want:    []string{`Cluster jiayuan-jiangnan/jiayuan-pg: spec.imageName "ghcr.io/cloudnative-pg/postgresql:17.6": not from the district's registry (registry.jiangnan.example)`},
		},
		{
			name:    "one image pinned by digest, another not",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "    newTag: v0.1.0\n", "    newTag: v0.1.0\n    digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"}},
			want:    []string{`Cluster jiayuan-jiangnan/jiayuan-pg: spec.imageName "registry.jiangnan.example/cloudnative-pg/postgresql:17.6": the overlay pins images by digest: pin this one too`},
		},
		{
			name:    "a caller left out of a service's allow-list",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "      - partner=gateway.jiayuan-jiangnan.svc,demand.jiayuan-jiangnan.svc,", "      - partner=gateway.jiayuan-jiangnan.svc,"}},
			want:    []string{"Deployment jiayuan-jiangnan/demand: JIAYUAN_PARTNER_ADDR=partner:9090: Certificate jiayuan-jiangnan/demand-tls (dnsNames [demand demand.jiayuan-jiangnan.svc demand.jiayuan-jiangnan.svc.cluster.local]) names none of jiayuan-jiangnan/partner's JIAYUAN_TLS_CLIENT_NAMES"},
		},
		{
			name:    "another district's pods let in",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "      - partner=gateway.jiayuan-jiangnan.svc,", "      - partner=gateway.jiayuan-qingxiu.svc,gateway,gateway.jiayuan-jiangnan.svc,"}},
			want: []string{
				`Deployment jiayuan-jiangnan/partner: JIAYUAN_TLS_CLIENT_NAMES "gateway.jiayuan-qingxiu.svc": no caller that dials it presents a certificate of that name`,
				`Deployment jiayuan-jiangnan/partner: JIAYUAN_TLS_CLIENT_NAMES "gateway": name callers in full`,
			},
		},
		{
			name:    "mutual TLS with no allow-list",
			changes: []change{{"components/cert-manager-tls/patches/escalation.yaml", "            - name: JIAYUAN_TLS_CLIENT_NAMES\n              valueFrom:\n                configMapKeyRef:\n                  name: jiayuan-tls-callers\n                  key: escalation\n", ""}},
			want:    []string{"Deployment jiayuan-jiangnan/demand: JIAYUAN_ESCALATION_ADDR=escalation:9090: jiayuan-jiangnan/escalation requires client certificates from the CA every district shares but names no callers"},
		},
		{
			name:    "egress on 443 to any address",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "{cidr: 10.45.20.10/32}", "{cidr: 0.0.0.0/0}"}},
			want:    []string{"NetworkPolicy jiayuan-jiangnan/allow-identity-provider: egress[0]: ipBlock 0.0.0.0/0 is every address"},
		},
		{
			name:    "egress with no destination",
			changes: []change{{"overlays/qingxiu/kustomization.yaml", "      name: allow-identity-provider\n", "      name: allow-identity-provider-old\n"}},
			want:    []string{"NetworkPolicy jiayuan-qingxiu/allow-identity-provider: egress[0]: port 443 to any address"},
		},
		{
			name:    "a quota too small for the autoscalers' maximum",
			changes: []change{{"overlays/jiangnan/kustomization.yaml", "      - {op: replace, path: /spec/maxReplicas, value: 6}\n  - target:\n      kind: HorizontalPodAutoscaler\n      name: demand\n", "      - {op: replace, path: /spec/maxReplicas, value: 30}\n  - target:\n      kind: HorizontalPodAutoscaler\n      name: demand\n"}},
			want:    []string{"ResourceQuota jiayuan-jiangnan/jiayuan: hard.limits.cpu 48 is below the 66 the namespace runs at its autoscalers' maximum plus a rollout's surge (partner 31", "ResourceQuota jiayuan-jiangnan/jiayuan: hard.pods 50 is below the 63"},
		},
		{
			name:    "no container defaults",
			changes: []change{{"base/common/quota.yaml", "    - type: Container\n", "    - type: Pod\n"}},
			want:    []string{"LimitRange jiayuan-qingxiu/jiayuan: give type Container a default and a defaultRequest"},
		},
		{
			name:    "asynchronous replication",
			changes: []change{{"components/cloudnative-pg/cluster.yaml", "    synchronous:\n      method: any\n      number: 1\n      dataDurability: required\n", ""}},
			want:    []string{"Cluster jiayuan-jiangnan/jiayuan-pg: postgresql.synchronous: commits are not confirmed by a standby"},
		},
		{
			name:    "backups not encrypted",
			changes: []change{{"components/cloudnative-pg/objectstore.yaml", "      compression: gzip\n      encryption: AES256\n      jobs: 2\n", "      compression: gzip\n      jobs: 2\n"}},
			want:    []string{`ObjectStore jiayuan-jiangnan/jiayuan-pg-backups: configuration.data.encryption "": AES256 or aws:kms`},
		},
		{
			name:    "the DBA's PostgreSQL too small",
			changes: []change{{"overlays/qingxiu/namespace.yaml", `jiayuan.io/postgresql-max-connections: "200"`, `jiayuan.io/postgresql-max-connections: "100"`}},
			want:    []string{"Namespace jiayuan-qingxiu: the DBA's PostgreSQL takes 100 connections (jiayuan.io/postgresql-max-connections), below the 197 the services may open"},
		},
		{
			name:    "a committed Secret",
			changes: []change{{"overlays/qingxiu/namespace.yaml", "    pod-security.kubernetes.io/enforce-version: latest\n", "    pod-security.kubernetes.io/enforce-version: latest\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: partner-db\nstringData:\n  url: postgres://x\n"}},
			want:    []string{"Secret jiayuan-qingxiu/partner-db: Secrets are never committed"},
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
				if w = strings.ReplaceAll(w, "{root}", root); !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// restorePatch extracts the patch docs/deploy.md gives for restoring PostgreSQL from backups:
// the yaml block after its "checked by … TestRestoreProcedure" marker.
func restorePatch(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "<!-- checked by deploy/overlay TestRestoreProcedure -->\n")
	if !ok {
		t.Fatal("docs/deploy.md: no restore patch marker")
	}
	lines := strings.Split(after, "\n")
	fence := lines[0]
	indent := fence[:len(fence)-len(strings.TrimLeft(fence, " "))]
	if strings.TrimSpace(fence) != "```yaml" {
		t.Fatalf("docs/deploy.md: the marker is followed by %q, not a yaml block", fence)
	}
	var b strings.Builder
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "```" {
			return b.String()
		}
		b.WriteString(strings.TrimPrefix(l, indent) + "\n")
	}
	t.Fatal("docs/deploy.md: the restore patch's block does not end")
	return ""
}

// TestRestoreProcedure applies the guide's restore patch to a copy of Jiangnan: it must render,
// decode and pass the checks, and recovering and archiving under one server name must not.
func TestRestoreProcedure(t *testing.T) {
	patch := restorePatch(t)
	root := copyTree(t)
	edit(t, root, "overlays/jiangnan/kustomization.yaml", "\npatches:\n", "\npatches:\n"+patch)
	if err := loadAll(t, root); err != nil {
		t.Fatalf("the guide's restore patch breaks the overlay: %v", err)
	}
	r, err := overlay.Load(filepath.Join(root, "overlays", "jiangnan"))
	if err != nil {
		t.Fatal(err)
	}
	cl := find[*overlay.Cluster](t, r, "Cluster", "jiayuan-pg")
	if b := cl.Spec.Bootstrap; b.InitDB != nil || b.Recovery == nil || b.Recovery.Source != "jiayuan-pg-backups" {
		t.Errorf("bootstrap after the patch: %+v", b)
	}

	root = copyTree(t)
	edit(t, root, "overlays/jiangnan/kustomization.yaml", "\npatches:\n", "\npatches:\n"+strings.Replace(patch, "value: jiayuan-pg-2", "value: jiayuan-pg", 1))
	err = loadAll(t, root)
	if want := `Cluster jiayuan-jiangnan/jiayuan-pg: recovers from and archives to server name "jiayuan-pg"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to contain %q", err, want)
	}
}
