package overlay

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// rulesFile is the key of the district's operating rules, next to the region tree in the same
// ConfigMap (read by the escalation service, whose own parser checks it here).
const rulesFile = "rules.yaml"

// district loads the region tree a service reads (its --regions file) and the operating
// rules beside it with the services' own parsers, reporting problems against the overlay's
// source files: "overlays/jiangnan/regions.yaml: node …: children[0].code …".
func (c *checker) district(where, ns string, volumes map[string]corev1.Volume, ctr *corev1.Container, regionsPath string) {
	cm, regionsKey := c.file(where+": env JIAYUAN_REGIONS", ns, volumes, ctr, regionsPath)
	if cm == nil || c.checkedDistrict[key(ns, cm.Name)] {
		return
	}
	c.checkedDistrict[key(ns, cm.Name)] = true
	sources := c.generatorFiles(cm.Name)
	load := func(k string) (source string, data []byte) {
		data = []byte(cm.Data[k])
		source, ok := sources[k]
		if !ok {
			c.problem("ConfigMap %s/%s: key %s does not come from a file of the overlay's own configMapGenerator (%s): generate it there from the district's file",
				ns, cm.Name, k, filepath.Join(c.r.Dir, "kustomization.yaml"))
			return "", nil
		}
		disk, err := os.ReadFile(source)
		if err != nil || !bytes.Equal(disk, data) {
			c.problem("ConfigMap %s/%s: key %s differs from %s", ns, cm.Name, k, source)
			return "", nil
		}
		return source, data
	}
	regionsSource, regionsData := load(regionsKey)
	var tree *region.Tree
	if regionsData != nil {
		t, err := region.Load(regionsSource)
		if err != nil {
			c.problem("%v", err)
		} else {
			tree = t
			if ns := c.namespaces[ns]; ns != nil && ns.Labels["jiayuan.io/district"] != t.Root().Code {
				c.problem("Namespace %s: label jiayuan.io/district %q must be the region tree's district code %q (%s)",
					ns.Name, ns.Labels["jiayuan.io/district"], t.Root().Code, regionsSource)
			}
		}
	}
	if _, ok := cm.Data[rulesFile]; !ok {
		c.problem("ConfigMap %s/%s: no %s next to %s: every district ships its operating rules", ns, cm.Name, rulesFile, regionsKey)
		return
	}
	rulesSource, rulesData := load(rulesFile)
	if rulesData == nil {
		return
	}
	r, err := rules.Load(rulesSource)
	if err != nil {
		c.problem("%v", err)
		return
	}
	if tree != nil && r.District() != tree.Root().Code {
		c.problem("%s: district: %q is not the region tree's district %q (%s)", rulesSource, r.District(), tree.Root().Code, regionsSource)
	}
}

// rollup checks the city rollup's configuration (its --rollup-config file) with the binary's own
// parser, against the overlay's source file, and that every district's token file is mounted
// from a Secret documented with that key. Where each district's address leads is checked
// with the other overlays (CheckAll).
func (c *checker) rollup(where, ns string, volumes map[string]corev1.Volume, ctr *corev1.Container, path string) {
	cm, k := c.file(where+": env JIAYUAN_ROLLUP_CONFIG", ns, volumes, ctr, path)
	if cm == nil {
		return
	}
	source, ok := c.generatorFiles(cm.Name)[k]
	if !ok {
		c.problem("ConfigMap %s/%s: key %s does not come from a file of the overlay's own configMapGenerator: generate it from the city's file", ns, cm.Name, k)
		return
	}
	if disk, err := os.ReadFile(source); err != nil || !bytes.Equal(disk, []byte(cm.Data[k])) {
		c.problem("ConfigMap %s/%s: key %s differs from %s", ns, cm.Name, k, source)
		return
	}
	f, err := reporting.ParseRollup(source, []byte(cm.Data[k]))
	if err != nil {
		c.problem("%v", err)
		return
	}
	for i, d := range f.Districts {
		c.file(fmt.Sprintf("%s: %s: districts[%d] (%s %s) token_file", where, source, i, d.Code, d.Name), ns, volumes, ctr, d.TokenFile)
	}
}

// generatorFiles maps the keys of a ConfigMap the overlay generates to their files, read from
// the overlay's kustomization.yaml ("files: [regions.yaml]" or "key=path").
func (c *checker) generatorFiles(renderedName string) map[string]string {
	data, err := os.ReadFile(filepath.Join(c.r.Dir, "kustomization.yaml"))
	if err != nil {
		return nil
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil
	}
	for _, g := range k.ConfigMapGenerator {
		// A generated name is "<name>-<10-character hash>".
		suffix, ok := strings.CutPrefix(renderedName, g.Name+"-")
		if !ok || len(suffix) != 10 {
			continue
		}
		out := map[string]string{}
		for _, f := range g.FileSources {
			k, p, hasKey := strings.Cut(f, "=")
			if !hasKey {
				k, p = filepath.Base(f), f
			}
			out[k] = filepath.Join(c.r.Dir, p)
		}
		return out
	}
	return nil
}
