package overlay

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// imageFields are the keys that hold an image to pull, in the built-in kinds (containers'
// image) and the custom resources (CloudNativePG's Cluster imageName): every one is checked,
// wherever it is, so an operator-managed image cannot slip past as the Cluster's once did.
var imageFields = []string{"image", "imageName"}

// images checks every image field of every object: pinned, from the district's registry (the
// registries the overlay's `images:` rewrite to), and by digest when the overlay pins one by
// digest. Nothing is pulled from the internet.
func (c *checker) images() {
	registries, digests := c.overlayImages()
	for _, o := range c.r.Objects {
		var doc any
		if err := yaml.Unmarshal(o.YAML, &doc); err != nil {
			continue
		}
		walkImages(doc, "", func(path, image string) {
			where := fmt.Sprintf("%s: %s %q", o, path, image)
			if o.Kind != "Deployment" { // containers are checked with their settings
				if err := pinned(image); err != nil {
					c.problem("%s: %v", where, err)
				}
			}
			if len(registries) > 0 && !slices.Contains(registries, registryOf(image)) {
				c.problem("%s: not from the district's registry (%s): mirror it there and add it to the overlay's images:",
					where, strings.Join(registries, ", "))
			}
			if digests && !strings.Contains(image, "@sha256:") {
				c.problem("%s: the overlay pins images by digest: pin this one too (images: digest)", where)
			}
		})
	}
}

// overlayImages reads the overlay's own images: the registries they are rewritten to, and
// whether any is pinned by digest.
func (c *checker) overlayImages() (registries []string, digests bool) {
	data, err := os.ReadFile(filepath.Join(c.r.Dir, "kustomization.yaml"))
	if err != nil {
		return nil, false
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, false
	}
	for _, im := range k.Images {
		if im.NewName != "" && !slices.Contains(registries, registryOf(im.NewName)) {
			registries = append(registries, registryOf(im.NewName))
		}
		if im.Digest != "" {
			digests = true
		}
	}
	return registries, digests
}

// registryOf is the registry host of an image reference ("docker.io" when it names none).
func registryOf(image string) string {
	first, _, ok := strings.Cut(image, "/")
	if !ok || !strings.ContainsAny(first, ".:") && first != "localhost" {
		return "docker.io"
	}
	return first
}

// walkImages calls fn for every string under an image field, with its path.
func walkImages(v any, path string, fn func(path, image string)) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if s, ok := t[k].(string); ok && slices.Contains(imageFields, k) {
				fn(p, s)
				continue
			}
			walkImages(t[k], p, fn)
		}
	case []any:
		for i, e := range t {
			walkImages(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}
