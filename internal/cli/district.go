package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// runNewDistrict writes a district's overlay (deploy/k8s/overlays/<slug>) and its side of the
// city overlay (a gateway for it, its egress policy, its certificate's names, its place in the
// reporting rollup's rollup.yaml and token Secret), from the
// service catalogue, so that adding a district is one command and the deploy checks pass on
// what it writes. Every value a district must check is marked "district:" in the files, and
// listed at the end of the output.
func runNewDistrict(args []string, io IO) error {
	fs := newFlagSet("jiayuan new-district", io)
	p := districtPlan{}
	root := fs.String("root", "deploy/k8s", "the kustomize tree to write into")
	fs.StringVar(&p.slug, "slug", "", "the district's short latin name, for the namespace jiayuan-<slug> and the directories (default: the code)")
	fs.StringVar(&p.domain, "domain", "", "the district's own domain: the API at jiayuan.<domain>, its identity provider idp.<domain>, … (default <slug>.example)")
	fs.StringVar(&p.registry, "registry", "", "the registry mirror the cluster pulls from (default registry.<domain>)")
	fs.StringVar(&p.tag, "tag", "v0.1.0", "the release to run")
	fs.BoolVar(&p.postgres, "cloudnative-pg", true, "run PostgreSQL in the namespace (the cloudnative-pg component); false: the DBA's server at --postgresql-cidr")
	fs.BoolVar(&p.tls, "tls", true, "mutual TLS between the pods (cert-manager-tls; needs the city's internal CA)")
	fs.StringVar(&p.idpCIDR, "idp-cidr", "192.0.2.10/32", "the identity provider's addresses (https)")
	fs.StringVar(&p.messagingCIDR, "messaging-cidr", "192.0.2.16/28", "the messaging gateway's addresses (https)")
	fs.StringVar(&p.objectCIDR, "objectstore-cidr", "198.51.100.0/24", "the object storage endpoint's addresses (photos, backups)")
	fs.StringVar(&p.apiCIDR, "apiserver-cidr", "203.0.113.1/32", "the Kubernetes API server's address (the PostgreSQL pods watch their Cluster)")
	fs.StringVar(&p.pgCIDR, "postgresql-cidr", "198.51.100.128/25", "without --cloudnative-pg: the DBA's PostgreSQL servers")
	fs.IntVar(&p.pgMaxConns, "postgresql-max-connections", 300, "without --cloudnative-pg: the DBA's server's max_connections, which the checks budget the services' pools against")
	// Flags may follow the two arguments: `jiayuan new-district 450107 西乡塘区 --slug xixiangtang`.
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		rest = fs.Args()
		for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
		if len(rest) == 0 {
			break
		}
	}
	if len(pos) != 2 {
		return errors.New("usage: jiayuan new-district [flags] <code> <name>, e.g. jiayuan new-district --slug xixiangtang 450107 西乡塘区")
	}
	p.code, p.name = pos[0], pos[1]
	if err := p.complete(); err != nil {
		return err
	}
	written, err := p.write(*root)
	if err != nil {
		return err
	}
	for _, f := range written {
		fmt.Fprintln(io.Out, "wrote", f)
	}
	fmt.Fprintf(io.Out, `
Next (docs/deploy.md, "Adding a district"):
  1. Review every value marked "district:" in %s/kustomization.yaml (addresses, hosts, CIDRs
     %s, %s, %s, %s are examples until you set them).
  2. Replace the region tree (regions.yaml: only the district itself so far) and review the rules (rules.yaml).
  3. go test ./deploy/overlay/ (make test), then create the Secrets and apply.
`, filepath.Join(*root, "overlays", p.slug), p.idpCIDR, p.messagingCIDR, p.objectCIDR, p.apiCIDR)
	return nil
}

// districtPlan is what new-district writes.
type districtPlan struct {
	code, name, slug, domain, registry, tag string
	postgres, tls                           bool
	idpCIDR, messagingCIDR, objectCIDR      string
	apiCIDR, pgCIDR                         string
	pgMaxConns                              int
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$`)

func (p *districtPlan) complete() error {
	var probs config.Problems
	if err := region.CheckCode(p.code); err != nil || len(p.code) != 6 {
		probs.Addf("code", "%q: the district's 6-digit GB/T 2260 code, e.g. 450107", p.code)
	}
	if strings.TrimSpace(p.name) == "" {
		probs.Addf("name", "give the district's name, e.g. 西乡塘区")
	}
	if p.slug == "" {
		p.slug = p.code
	}
	if !slugPattern.MatchString(p.slug) {
		probs.Addf("slug", "%q: lower-case latin letters, digits and dashes", p.slug)
	}
	if p.domain == "" {
		p.domain = p.slug + ".example"
	}
	if p.registry == "" {
		p.registry = "registry." + p.domain
	}
	return probs.Err()
}

func (p *districtPlan) namespace() string { return "jiayuan-" + p.slug }

// write creates the district's files and edits the city's, refusing to overwrite a district.
func (p *districtPlan) write(root string) ([]string, error) {
	dir := filepath.Join(root, "overlays", p.slug)
	cityDir := filepath.Join(root, "overlays", "city", p.slug)
	for _, d := range []string{dir, cityDir} {
		if _, err := os.Stat(d); err == nil {
			return nil, fmt.Errorf("%s exists: the district is there already", d)
		}
	}
	cityKust := filepath.Join(root, "overlays", "city", "kustomization.yaml")
	cityPolicies := filepath.Join(root, "overlays", "city", "networkpolicies.yaml")
	cityRollup := filepath.Join(root, "overlays", "city", "rollup.yaml")
	rollupTokens := filepath.Join(root, "secrets", "reporting-rollup-district-tokens.example.env")
	kust, err := os.ReadFile(cityKust)
	if err != nil {
		return nil, err
	}
	kust, err = p.cityKustomization(kust)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cityKust, err)
	}
	pol, err := os.ReadFile(cityPolicies)
	if err != nil {
		return nil, err
	}
	rollup, err := os.ReadFile(cityRollup)
	if err != nil {
		return nil, err
	}
	if rollup, err = p.cityRollup(cityRollup, rollup); err != nil {
		return nil, err
	}
	tokens, err := os.ReadFile(rollupTokens)
	if err != nil {
		return nil, err
	}
	files := []struct {
		path string
		data []byte
	}{
		{filepath.Join(dir, "namespace.yaml"), []byte(p.namespaceYAML())},
		{filepath.Join(dir, "kustomization.yaml"), []byte(p.kustomization())},
		{filepath.Join(dir, "regions.yaml"), []byte(p.regions())},
		{filepath.Join(dir, "rules.yaml"), p.rules()},
		{filepath.Join(cityDir, "kustomization.yaml"), []byte(p.cityGateway())},
		{cityKust, kust},
		{cityPolicies, append(pol, p.cityPolicy()...)},
		{cityRollup, rollup},
		{rollupTokens, append(tokens, p.code+"=CHANGE-ME\n"...)},
	}
	var written []string
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return written, err
		}
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return written, err
		}
		written = append(written, f.path)
	}
	return written, nil
}

func (p *districtPlan) namespaceYAML() string {
	annotations := ""
	if !p.postgres {
		annotations = fmt.Sprintf("  annotations:\n    # district: the DBA's PostgreSQL's max_connections (SHOW max_connections).\n    jiayuan.io/postgresql-max-connections: \"%d\"\n", p.pgMaxConns)
	}
	return fmt.Sprintf(`# %s (%s): the restricted Pod Security Standard is enforced.
apiVersion: v1
kind: Namespace
metadata:
  name: %s
%s  labels:
    jiayuan.io/district: %q
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
`, p.name, p.code, p.namespace(), annotations, p.code)
}

// callers lists, for a service, the full names of the certificates that may call it: the
// district's gateway, the services that have it among their peers, and the city's gateway
// for this district.
func (p *districtPlan) callers(service string) []string {
	out := []string{"gateway." + p.namespace() + ".svc"}
	for _, s := range suite.Services() {
		if slices.Contains(s.Peers, service) {
			out = append(out, s.Name+"."+p.namespace()+".svc")
		}
	}
	out = append(out, "gateway-"+p.slug+".jiayuan-city.svc")
	if service == reporting.Name {
		// The city's figures: the rollup calls the district's reporting service.
		out = append(out, reporting.RollupName+".jiayuan-city.svc")
	}
	return out
}

func (p *districtPlan) kustomization() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# %s (%s), written by `jiayuan new-district`. Every value marked \"district:\" is the\n", p.name, p.code)
	w("# district's own: review each before applying (docs/deploy.md, \"Adding a district\").\n")
	w("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources:\n  - namespace.yaml\n  - ../../base\ncomponents:\n", p.namespace())
	if p.postgres {
		w("  # PostgreSQL through CloudNativePG: an HA cluster in this namespace, backed up nightly.\n  - ../../components/cloudnative-pg\n")
	}
	if p.tls {
		w("  # Mutual TLS between the pods (and the city's gateway).\n  - ../../components/cert-manager-tls\n")
	}
	w("  # The city's namespace may call this district's services.\n  - ../../components/city-access\n")
	w("  # Prometheus scrapes every workload; the alert rules and the on-call dashboard\n")
	w("  # (docs/deploy.md, \"Metrics and alerts\"). Needs the Prometheus Operator in \"monitoring\".\n  - ../../components/monitoring\n")
	if p.postgres {
		w("  # …and its PostgreSQL's (with cloudnative-pg).\n  - ../../components/monitoring-cloudnative-pg\n")
	}
	w("\n")
	w("# district: the release to run, from the district's registry mirror.\nimages:\n")
	w("  - name: jiayuan\n    newName: %s/jiayuan/jiayuan\n    newTag: %s\n", p.registry, p.tag)
	if p.postgres {
		w("  - name: ghcr.io/cloudnative-pg/postgresql\n    newName: %s/cloudnative-pg/postgresql\n    newTag: \"17.6\"\n", p.registry)
	}
	w("\nconfigMapGenerator:\n  # The region tree and the operating rules (/etc/jiayuan/district).\n")
	w("  - name: jiayuan-district\n    files:\n      - regions.yaml\n      - rules.yaml\n")
	w("  # district: the identity provider that issues the tokens the services accept.\n")
	w("  - name: jiayuan-auth\n    literals:\n")
	w("      - JIAYUAN_AUTH_ISSUER=https://idp.%s/realms/jiayuan\n", p.domain)
	w("      - JIAYUAN_AUTH_AUDIENCE=jiayuan-%s\n", p.slug)
	w("      - JIAYUAN_AUTH_JWKS_URL=https://idp.%s/realms/jiayuan/protocol/openid-connect/certs\n", p.domain)
	w("  - name: jiayuan-telemetry\n    behavior: merge\n    literals:\n")
	w("      - OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=production,jiayuan.district=%s\n", p.code)
	if p.tls {
		w("  # The callers each service accepts under mutual TLS, by their certificates' full names.\n")
		w("  - name: jiayuan-tls-callers\n    literals:\n")
		for _, s := range suite.Names() {
			w("      - %s=%s\n", s, strings.Join(p.callers(s), ","))
		}
	}
	for _, s := range suite.Services() {
		var lits []string
		if s.Notifies {
			lits = append(lits, "JIAYUAN_NOTIFY_WEBHOOK_URL=https://sms."+p.domain+"/hooks/jiayuan")
		}
		if s.Photos {
			lits = append(lits, "JIAYUAN_PHOTO_STORE=s3://jiayuan-photos?endpoint=oss."+p.domain+"&region=cn-nanning&prefix="+p.slug)
		}
		if len(lits) > 0 {
			w("  # district: %s's messaging gateway (docs/notifications.md) and photo bucket.\n", s.Name)
			w("  - name: %s\n    behavior: merge\n    literals:\n", s.Name)
			for _, l := range lits {
				w("      - %s\n", l)
			}
		}
	}
	w("  # district: the web console's origin.\n  - name: gateway\n    behavior: merge\n    literals:\n")
	w("      - JIAYUAN_CORS_ORIGINS=https://console.%s\n", p.domain)

	w("\npatches:\n  # district: how many of each, at least and at most.\n")
	for _, s := range append(suite.Names(), "gateway") {
		w("  - target:\n      kind: HorizontalPodAutoscaler\n      name: %s\n    patch: |-\n", s)
		w("      - {op: replace, path: /spec/minReplicas, value: 2}\n      - {op: replace, path: /spec/maxReplicas, value: 4}\n")
	}
	w("  # district: the public host of the REST API.\n")
	w("  - target:\n      kind: Ingress\n      name: gateway\n    patch: |-\n")
	w("      - {op: replace, path: /spec/rules/0/host, value: jiayuan.%s}\n", p.domain)
	w("      - {op: replace, path: /spec/tls/0/hosts/0, value: jiayuan.%s}\n", p.domain)
	w("  # district: the addresses outside the cluster reached on 443 (the checks refuse egress to\n  # any address).\n")
	w("  - target:\n      kind: NetworkPolicy\n      name: allow-identity-provider\n    patch: |-\n")
	w("      - op: add\n        path: /spec/egress/0/to\n        value:\n          - ipBlock: {cidr: %s}    # idp.%s\n", p.idpCIDR, p.domain)
	for _, s := range suite.Services() {
		if s.Notifies {
			w("  - target:\n      kind: NetworkPolicy\n      name: %s-messaging-gateway\n    patch: |-\n", s.Name)
			w("      - op: add\n        path: /spec/egress/0/to\n        value:\n")
			w("          - ipBlock: {cidr: %s}    # sms.%s\n", p.messagingCIDR, p.domain)
			if s.Photos { // the photo bucket too, through the same policy
				w("          - ipBlock: {cidr: %s}    # oss.%s\n", p.objectCIDR, p.domain)
			}
		}
	}
	if p.postgres {
		w("  - target:\n      kind: NetworkPolicy\n      name: jiayuan-pg\n    patch: |-\n")
		w("      - op: add\n        path: /spec/egress/1/to\n        value:\n")
		w("          - ipBlock: {cidr: %s}    # oss.%s (backups)\n          - ipBlock: {cidr: %s}    # the Kubernetes API server\n", p.objectCIDR, p.domain, p.apiCIDR)
		w("  # district: the object storage bucket for PostgreSQL backups.\n")
		w("  - target:\n      kind: ObjectStore\n      name: jiayuan-pg-backups\n    patch: |-\n")
		w("      - {op: replace, path: /spec/configuration/destinationPath, value: \"s3://jiayuan-backups/%s\"}\n", p.slug)
		w("      - {op: replace, path: /spec/configuration/endpointURL, value: \"https://oss.%s\"}\n", p.domain)
	} else {
		w("  # district: the DBA's PostgreSQL servers: services reach nothing else on 5432.\n")
		w("  - target:\n      kind: NetworkPolicy\n      name: allow-postgresql\n    patch: |-\n")
		w("      - op: add\n        path: /spec/egress/0/to\n        value:\n          - ipBlock: {cidr: %s}\n", p.pgCIDR)
	}
	if p.tls {
		w("\n# The namespace goes into the certificates' names (partner.<namespace>.svc, …).\n")
		w("replacements:\n  - source:\n      kind: Namespace\n    targets:\n      - select:\n          kind: Certificate\n")
		w("        fieldPaths:\n          - spec.dnsNames.1\n          - spec.dnsNames.2\n        options:\n          delimiter: \".\"\n          index: 1\n")
	}
	return b.String()
}

func (p *districtPlan) regions() string {
	return fmt.Sprintf(`# %s (%s) region tree, written by jiayuan new-district with the district alone: add its
# sub-districts (街道), communities (社区) and grids (网格), each level adding 3 digits to its
# parent's code (docs/deploy.md, "Creating a district", step 3).
code: %q
name: %s
level: district
`, p.name, p.code, p.code, p.name)
}

// rules starts the district's operating rules from the demonstration rules, for its code.
func (p *districtPlan) rules() []byte {
	demo := rules.DemoYAML()
	i := bytes.Index(demo, []byte("\ndistrict: "))
	end := bytes.IndexByte(demo[i+1:], '\n')
	head := fmt.Sprintf("# Operating rules of %s (%s), written by jiayuan new-district from the demonstration rules:\n"+
		"# review every colour, time limit, department and the calendar (docs/deploy.md, \"Creating a\n# district\", step 4).\ndistrict: %q", p.name, p.code, p.code)
	return append([]byte(head), demo[i+1+end:]...)
}

// cityGateway is the city's gateway for the district.
func (p *districtPlan) cityGateway() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# The city's gateway for %s (%s), written by jiayuan new-district: the base gateway, renamed\n", p.slug, p.code)
	w("# gateway-%s, its pods labelled with the district, pointing at its services in %s.\n", p.slug, p.namespace())
	w("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../../base/gateway\n")
	if p.tls {
		w("# The district's services require client certificates: this gateway presents one.\ncomponents:\n  - ../../../components/cert-manager-tls-gateway\n")
	}
	w("nameSuffix: \"-%s\"\nlabels:\n  - pairs:\n      jiayuan.io/district: %q\n    includeSelectors: true\n", p.slug, p.code)
	w("configMapGenerator:\n  - name: gateway\n    behavior: merge\n    literals:\n")
	for _, s := range suite.Names() {
		w("      - %s=%s.%s.svc:9090\n", config.EnvName(s+"-addr"), s, p.namespace())
	}
	w("      - JIAYUAN_CORS_ORIGINS=https://dashboard.nanning.example\n")
	w("patches:\n  - target:\n      kind: Ingress\n      name: gateway\n    patch: |-\n")
	w("      - {op: replace, path: /spec/rules/0/host, value: %s.jiayuan.nanning.example}\n", p.slug)
	w("      - {op: replace, path: /spec/tls/0/hosts/0, value: %s.jiayuan.nanning.example}\n", p.slug)
	return b.String()
}

// cityKustomization adds the district's gateway to the city's resources and, under mutual TLS,
// its certificate's names to the city's replacements.
func (p *districtPlan) cityKustomization(data []byte) ([]byte, error) {
	s := string(data)
	const anchor = "\n  - networkpolicies.yaml\n"
	if !strings.Contains(s, anchor) {
		return nil, errors.New("no `  - networkpolicies.yaml` among the resources to add the district before")
	}
	// "./" keeps a slug of digits (the default, the code) a string in YAML.
	s = strings.Replace(s, anchor, "\n  - ./"+p.slug+anchor, 1)
	if p.tls {
		const repl = "\nreplacements:\n"
		if !strings.Contains(s, repl) {
			return nil, errors.New("no replacements: block to add the gateway's certificate names to")
		}
		s = strings.Replace(s, repl, repl+fmt.Sprintf(`  - source:
      kind: Service
      name: gateway-%[1]s
      fieldPath: metadata.name
    targets:
      - select:
          kind: Certificate
          name: gateway-tls-%[1]s
        fieldPaths:
          - spec.dnsNames.1
          - spec.dnsNames.2
        options:
          delimiter: "."
          index: 0
`, p.slug), 1)
	}
	return []byte(s), nil
}

// cityRollup adds the district to the city rollup's rollup.yaml, checked with the rollup's own
// parser: its reporting service, the token file (a key of the Secret
// reporting-rollup-district-tokens) and, without mutual TLS, plaintext.
func (p *districtPlan) cityRollup(file string, data []byte) ([]byte, error) {
	if _, err := reporting.ParseRollup(file, data); err != nil {
		return nil, err
	}
	s := string(data)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	s += fmt.Sprintf("  # district: %s's reporting service, written by jiayuan new-district.\n  - code: %q\n    name: %s\n    address: %s.%s.svc:9090\n    token_file: /etc/jiayuan/district-tokens/%s\n",
		p.name, p.code, p.name, reporting.Name, p.namespace(), p.code)
	if !p.tls {
		s += "    plaintext: true\n"
	}
	out := []byte(s)
	if _, err := reporting.ParseRollup(file, out); err != nil {
		return nil, fmt.Errorf("the district added: %w", err)
	}
	return out, nil
}

// cityPolicy lets the city's gateway for the district reach its services and nothing else, and
// the city's reporting rollup its reporting service.
func (p *districtPlan) cityPolicy() string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: gateway-%s-egress\nspec:\n  podSelector:\n    matchLabels:\n", p.slug)
	fmt.Fprintf(&b, "      app.kubernetes.io/name: gateway\n      jiayuan.io/district: %q\n  policyTypes: [Egress]\n  egress:\n", p.code)
	for _, s := range suite.Names() {
		fmt.Fprintf(&b, "    - to:\n        - namespaceSelector:\n            matchLabels:\n              jiayuan.io/district: %q\n", p.code)
		fmt.Fprintf(&b, "          podSelector:\n            matchLabels:\n              app.kubernetes.io/name: %s\n      ports:\n        - {protocol: TCP, port: 9090}\n", s)
	}
	fmt.Fprintf(&b, "---\n# The city's reporting rollup reaches %s's reporting service (rollup.yaml), and nothing else\n# there.\n", p.slug)
	fmt.Fprintf(&b, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: %s-%s-egress\nspec:\n  podSelector:\n    matchLabels:\n", reporting.RollupName, p.slug)
	fmt.Fprintf(&b, "      app.kubernetes.io/name: %s\n  policyTypes: [Egress]\n  egress:\n", reporting.RollupName)
	fmt.Fprintf(&b, "    - to:\n        - namespaceSelector:\n            matchLabels:\n              jiayuan.io/district: %q\n", p.code)
	fmt.Fprintf(&b, "          podSelector:\n            matchLabels:\n              app.kubernetes.io/name: %s\n      ports:\n        - {protocol: TCP, port: 9090}\n", reporting.Name)
	return b.String()
}
