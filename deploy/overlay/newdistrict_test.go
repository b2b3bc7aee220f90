package overlay_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/deploy/overlay"
	"github.com/jiayuan/jiayuan/internal/cli"
)

// TestNewDistrict runs `jiayuan new-district` into a copy of the tree, in both forms (the
// worked example's: PostgreSQL in the namespace and mutual TLS; the smallest: the DBA's
// PostgreSQL, plaintext), and requires every deploy check to pass on what it wrote, the new
// district's and the city's gateways for it included.
func TestNewDistrict(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		tls  bool
	}{
		{"full", []string{"450107", "西乡塘区", "--slug", "xixiangtang", "--domain", "xxt.nanning.example"}, true},
		{"smallest", []string{"--cloudnative-pg=false", "--tls=false", "450108", "良庆区"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := copyTree(t)
			var out, errOut bytes.Buffer
			io := cli.IO{Out: &out, Err: &errOut, LookupEnv: func(string) (string, bool) { return "", false }}
			if code := cli.Run(context.Background(), append([]string{"new-district", "--root", root}, tc.args...), io); code != 0 {
				t.Fatalf("new-district exited %d: %s", code, errOut.String())
			}
			if err := loadAll(t, root); err != nil {
				t.Fatalf("the checks fail on new-district's output:\n%v\n%s", err, out.String())
			}
			slug := tc.args[len(tc.args)-1]
			if tc.tls {
				slug = "xixiangtang"
			} else {
				slug = "450108"
			}
			r, err := overlay.Load(filepath.Join(root, "overlays", slug))
			if err != nil {
				t.Fatal(err)
			}
			hasCerts := false
			for _, o := range r.Objects {
				hasCerts = hasCerts || o.Kind == "Certificate"
			}
			if hasCerts != tc.tls {
				t.Errorf("certificates %v, want %v", hasCerts, tc.tls)
			}
			// A second run refuses to overwrite the district.
			if code := cli.Run(context.Background(), append([]string{"new-district", "--root", root}, tc.args...), io); code == 0 ||
				!strings.Contains(errOut.String(), "exists") {
				t.Errorf("a second run exited %d: %s", code, errOut.String())
			}
		})
	}
	// Bad arguments write nothing.
	root := copyTree(t)
	before, _ := os.ReadFile(filepath.Join(root, "overlays", "city", "kustomization.yaml"))
	var errOut bytes.Buffer
	io := cli.IO{Out: &bytes.Buffer{}, Err: &errOut, LookupEnv: func(string) (string, bool) { return "", false }}
	if code := cli.Run(context.Background(), []string{"new-district", "--root", root, "4501", "x", "--slug", "Bad Slug"}, io); code == 0 {
		t.Fatal("bad arguments accepted")
	}
	for _, want := range []string{"6-digit", "slug"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("error %q does not mention %q", errOut.String(), want)
		}
	}
	after, _ := os.ReadFile(filepath.Join(root, "overlays", "city", "kustomization.yaml"))
	if !bytes.Equal(before, after) {
		t.Error("a refused run changed the city's kustomization")
	}
}
