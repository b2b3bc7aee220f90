package overlay_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/deploy/overlay"
	"github.com/jiayuan/jiayuan/internal/cli"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// TestNewDistrict runs `jiayuan new-district` into a copy of the tree, in both forms (the
// worked example's: PostgreSQL in the namespace and mutual TLS; the smallest: the DBA's
// PostgreSQL, plaintext), and requires every deploy check to pass on what it wrote, the new
// district's and the city's gateways for it included, and the city's reporting rollup reading
// it (its address, network path, TLS and token followed by the checks).
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
			// The city's rollup counts the new district, as the checks above saw it do.
			code, name := tc.args[len(tc.args)-2], tc.args[len(tc.args)-1]
			if tc.tls {
				code, name = tc.args[0], tc.args[1]
			}
			rollup, err := reporting.LoadRollup(filepath.Join(root, "overlays", "city", "rollup.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(rollup.Districts, func(d reporting.RollupDistrict) bool { return d.Code == code })
			if i < 0 || rollup.Districts[i].Name != name || rollup.Districts[i].Address != "reporting.jiayuan-"+slug+".svc:9090" ||
				rollup.Districts[i].Plaintext == tc.tls || len(rollup.Districts) != 3 {
				t.Errorf("the rollup's districts %+v: want %s %s at reporting.jiayuan-%s.svc:9090, plaintext %v", rollup.Districts, code, name, slug, !tc.tls)
			}
			tokens, _ := os.ReadFile(filepath.Join(root, "secrets", "reporting-rollup-district-tokens.example.env"))
			if !strings.Contains(string(tokens), "\n"+code+"=CHANGE-ME\n") {
				t.Errorf("the rollup's token Secret example has no key %s:\n%s", code, tokens)
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
