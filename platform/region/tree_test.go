package region_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jiayuan/jiayuan/platform/region"
)

func TestDemoShape(t *testing.T) {
	tree := region.Demo()

	root := tree.Root()
	if root.Code != "450105" || root.Name != "南宁市江南区" || root.Level != region.LevelDistrict || root.Parent != "" {
		t.Fatalf("Root() = %+v", root)
	}

	wantSubs := []struct {
		code, name  string
		communities int
	}{
		{"450105001", "江南街道", 4},
		{"450105002", "福建园街道", 3},
		{"450105003", "那洪街道", 3},
		{"450105004", "沙井街道", 2},
	}
	subs := tree.Children("450105")
	if len(subs) != len(wantSubs) {
		t.Fatalf("Children(450105) has %d sub-districts, want %d", len(subs), len(wantSubs))
	}
	communities := 0
	for i, w := range wantSubs {
		s := subs[i]
		if s.Code != w.code || s.Name != w.name || s.Level != region.LevelSubdistrict || s.Parent != "450105" {
			t.Errorf("sub-district %d = %+v, want %s %s", i, s, w.code, w.name)
		}
		comms := tree.Children(s.Code)
		if len(comms) != w.communities {
			t.Errorf("%s has %d communities, want %d", s, len(comms), w.communities)
		}
		for _, c := range comms {
			communities++
			if c.Level != region.LevelCommunity || !strings.HasSuffix(c.Name, "社区") {
				t.Errorf("community %+v", c)
			}
			grids := tree.Children(c.Code)
			if len(grids) != 3 {
				t.Errorf("%s has %d grids, want 3", c, len(grids))
			}
			for j, g := range grids {
				wantName := c.Name + []string{"第一网格", "第二网格", "第三网格"}[j]
				wantCode := fmt.Sprintf("%s%03d", c.Code, j+1)
				if g.Code != wantCode || g.Name != wantName || g.Level != region.LevelGrid || g.Parent != c.Code {
					t.Errorf("grid %d of %s = %+v, want %s %s", j, c, g, wantCode, wantName)
				}
				if kids := tree.Children(g.Code); kids != nil {
					t.Errorf("grid %s has children %v", g, kids)
				}
			}
		}
	}
	if communities != 12 {
		t.Errorf("%d communities, want 12", communities)
	}
	if got, want := tree.Len(), 1+4+12+36; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	for code, name := range map[string]string{
		"450105001001":    "二桥西社区",
		"450105001002":    "富景社区",
		"450105003001":    "沛鸿社区",
		"450105001001001": "二桥西社区第一网格",
	} {
		if n, ok := tree.Get(code); !ok || n.Name != name {
			t.Errorf("Get(%s) = %+v, %v; want %s", code, n, ok, name)
		}
	}
}

func TestDemoYAMLParsesToTheSameTree(t *testing.T) {
	tree, err := region.Parse(region.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tree.Nodes(), region.Demo().Nodes()) {
		t.Error("Parse(DemoYAML()) differs from Demo()")
	}
}

func TestContains(t *testing.T) {
	tree := region.Demo()
	tests := []struct {
		ancestor, code string
		want           bool
	}{
		{"450105", "450105", true},
		{"450105", "450105001001001", true},
		{"450105001", "450105001002", true},
		{"450105001", "450105001002003", true},
		{"450105001001", "450105001001002", true},
		{"450105001001001", "450105001001001", true},
		{"450105001001", "450105001", false},       // descendant is not an ancestor
		{"450105001", "450105002001", false},       // a sibling's subtree
		{"450105001001", "450105001002001", false}, // a cousin grid
		{"450105001", "450105001009", false},       // prefixed by the ancestor, but not in the tree
		{"450105001", "450105001001009", false},    // ditto, a grid
		{"450105009", "450105009001", false},       // neither in the tree
		{"450105", "", false},
		{"", "450105", false},
		{"", "", false},
		{"4501", "450105", false}, // a prefix of the root is not a node
	}
	for _, tt := range tests {
		if got := tree.Contains(tt.ancestor, tt.code); got != tt.want {
			t.Errorf("Contains(%q, %q) = %v, want %v", tt.ancestor, tt.code, got, tt.want)
		}
	}
}

func TestPath(t *testing.T) {
	tree := region.Demo()
	tests := []struct {
		code string
		want []string
	}{
		{"450105", []string{"450105"}},
		{"450105003001", []string{"450105", "450105003", "450105003001"}},
		{"450105003001002", []string{"450105", "450105003", "450105003001", "450105003001002"}},
		{"450105003009", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, n := range tree.Path(tt.code) {
			got = append(got, n.Code)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Path(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
	path := tree.Path("450105003001")
	if names := []string{path[0].Name, path[1].Name, path[2].Name}; !slices.Equal(names, []string{"南宁市江南区", "那洪街道", "沛鸿社区"}) {
		t.Errorf("Path names = %v", names)
	}
}

func TestSubtreeAndNodes(t *testing.T) {
	tree := region.Demo()
	sub := tree.Subtree("450105004")
	var codes []string
	for _, n := range sub {
		codes = append(codes, n.Code)
	}
	want := []string{
		"450105004",
		"450105004001", "450105004001001", "450105004001002", "450105004001003",
		"450105004002", "450105004002001", "450105004002002", "450105004002003",
	}
	if !slices.Equal(codes, want) {
		t.Errorf("Subtree(450105004) = %v, want %v", codes, want)
	}
	if got := tree.Subtree("450105"); len(got) != tree.Len() {
		t.Errorf("Subtree(root) has %d nodes, want %d", len(got), tree.Len())
	}
	if got := tree.Subtree("450105001001001"); len(got) != 1 {
		t.Errorf("Subtree(grid) = %v", got)
	}
	if got := tree.Subtree("nope"); got != nil {
		t.Errorf("Subtree(nope) = %v", got)
	}

	// Nodes is pre-order: every node after its parent, and stable between calls.
	nodes := tree.Nodes()
	seen := map[string]bool{}
	for _, n := range nodes {
		if n.Parent != "" && !seen[n.Parent] {
			t.Fatalf("%s comes before its parent %s", n, n.Parent)
		}
		seen[n.Code] = true
	}
	if !slices.Equal(nodes, tree.Nodes()) {
		t.Error("Nodes() is not stable")
	}
	for _, n := range nodes {
		if got := tree.Subtree(n.Code); len(got) == 0 || got[0] != n {
			t.Fatalf("Subtree(%s) does not start with the node", n)
		}
		for _, d := range tree.Subtree(n.Code) {
			if !tree.Contains(n.Code, d.Code) {
				t.Errorf("Subtree(%s) holds %s but Contains disagrees", n.Code, d.Code)
			}
		}
	}
}

func TestReturnedSlicesDoNotAliasTheTree(t *testing.T) {
	tree := region.Demo()
	tree.Nodes()[0].Name = "changed"
	tree.Children("450105")[0].Name = "changed"
	tree.Path("450105001")[0].Name = "changed"
	tree.Subtree("450105")[0].Name = "changed"
	if tree.Root().Name != "南宁市江南区" {
		t.Errorf("root renamed to %q through a returned slice", tree.Root().Name)
	}
	if n, _ := tree.Get("450105001"); n.Name != "江南街道" {
		t.Errorf("sub-district renamed to %q through a returned slice", n.Name)
	}
}

func TestValidate(t *testing.T) {
	tree := region.Demo()
	if err := tree.Validate("450105002003"); err != nil {
		t.Errorf("Validate(known) = %v", err)
	}
	err := tree.Validate("450105002009")
	var unknown *region.UnknownCodeError
	if !errors.As(err, &unknown) || unknown.Code != "450105002009" {
		t.Fatalf("Validate(unknown) = %v, want *UnknownCodeError", err)
	}
	if got, want := err.Error(), `region code "450105002009" is not in the region tree`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestConcurrentReads(t *testing.T) {
	tree := region.Demo()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, n := range tree.Nodes() {
				if !tree.Contains(tree.Root().Code, n.Code) || len(tree.Path(n.Code)) == 0 {
					t.Errorf("lookup of %s failed", n)
				}
				tree.Children(n.Code)
				tree.Subtree(n.Code)
			}
		})
	}
	wg.Wait()
}

func TestLevel(t *testing.T) {
	tests := []struct {
		level     region.Level
		child     region.Level
		hasChild  bool
		chinese   string
		wantValid bool
	}{
		{region.LevelDistrict, region.LevelSubdistrict, true, "区", true},
		{region.LevelSubdistrict, region.LevelCommunity, true, "街道", true},
		{region.LevelCommunity, region.LevelGrid, true, "社区", true},
		{region.LevelGrid, "", false, "网格", true},
		{"village", "", false, "", false},
	}
	for _, tt := range tests {
		child, ok := tt.level.Child()
		if child != tt.child || ok != tt.hasChild || tt.level.Chinese() != tt.chinese || tt.level.Valid() != tt.wantValid {
			t.Errorf("%q: Child() = %q, %v; Chinese() = %q; Valid() = %v", tt.level, child, ok, tt.level.Chinese(), tt.level.Valid())
		}
		if _, err := region.ParseLevel(string(tt.level)); (err == nil) != tt.wantValid {
			t.Errorf("ParseLevel(%q) error = %v", tt.level, err)
		}
	}
}

// small is a valid tree that the error cases below break in one place each.
const small = `
code: "450105"
name: 南宁市江南区
level: district
children:
  - code: "450105001"
    name: 江南街道
    level: subdistrict
    children:
      - code: "450105001001"
        name: 二桥西社区
        level: community
        children:
          - {code: "450105001001001", name: 二桥西社区第一网格, level: grid}
          - {code: "450105001001002", name: 二桥西社区第二网格, level: grid}
`

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		len  int
	}{
		{"small", small, 5},
		{"district alone", "code: \"450105\"\nname: 江南区\nlevel: district\n", 1},
		{"null children", "code: \"450105\"\nname: 江南区\nlevel: district\nchildren:\n", 1},
		{"empty children", "code: \"450105\"\nname: 江南区\nlevel: district\nchildren: []\n", 1},
		{"json is yaml", `{"code":"450105","name":"江南区","level":"district","children":[{"code":"450105001","name":"江南街道","level":"subdistrict"}]}`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := region.Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if tree.Len() != tt.len {
				t.Errorf("Len() = %d, want %d", tree.Len(), tt.len)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	grid := func(code, name, level string) string {
		return fmt.Sprintf("          - {code: %s, name: %s, level: %s}\n", code, name, level)
	}
	community := strings.Split(small, "          - {code")[0] // up to the community's children:
	tests := []struct {
		name string
		yaml string
		want []string // every problem, in order
	}{
		{
			name: "child code not its parent's plus 3 digits",
			yaml: community + grid(`"450105001001001"`, "一", "grid") + grid(`"450105001001002"`, "二", "grid") + grid(`"4501050019"`, "三", "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[2].code "4501050019": must be its parent's code plus 3 digits`},
		},
		{
			name: "child code under another parent",
			yaml: community + grid(`"450105002001001"`, "一", "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[0].code "450105002001001": must be its parent's code plus 3 digits`},
		},
		{
			name: "child code with letters",
			yaml: community + grid(`"450105001001A01"`, "一", "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[0].code "450105001001A01": must be its parent's code plus 3 digits`},
		},
		{
			name: "child code 000",
			yaml: community + grid(`"450105001001000"`, "一", "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[0].code "450105001001000": the 3 digits added to its parent's code must not be 000`},
		},
		{
			name: "duplicate code",
			yaml: community + grid(`"450105001001001"`, "一", "grid") + grid(`"450105001001001"`, "二", "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[1].code "450105001001001": duplicate code, already used by node 450105001001001 (一)`},
		},
		{
			name: "unquoted code",
			yaml: community + grid("450105001001001", "一", "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[0].code 450105001001001: must be a quoted string, e.g. code: "450105001001001"`},
		},
		{
			name: "unknown key",
			yaml: community + "          - {code: \"450105001001001\", name: 一, level: grid, nmae: x}\n",
			want: []string{`node 450105001001 (二桥西社区): children[0]: unknown key "nmae" (want code, name, level, children)`},
		},
		{
			name: "unknown key at root",
			yaml: "code: \"450105\"\nname: 江南区\nlevel: district\nparent: x\n",
			want: []string{`root: unknown key "parent" (want code, name, level, children)`},
		},
		{
			name: "empty name",
			yaml: community + grid(`"450105001001001"`, `""`, "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[0].name: must not be empty`},
		},
		{
			name: "blank name",
			yaml: community + grid(`"450105001001001"`, `"  "`, "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[0].name: must not be empty`},
		},
		{
			name: "name with surrounding spaces",
			yaml: community + grid(`"450105001001001"`, `" 一 "`, "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[0].name " 一 ": must not begin or end with spaces`},
		},
		{
			name: "name read as a boolean",
			yaml: community + grid(`"450105001001001"`, "no", "grid"),
			want: []string{`node 450105001001 (二桥西社区): children[0].name: must be a string, not a boolean (put it in quotes)`},
		},
		{
			name: "missing name",
			yaml: community + "          - {code: \"450105001001001\", level: grid}\n",
			want: []string{`node 450105001001 (二桥西社区): children[0]: missing key "name"`},
		},
		{
			name: "missing code",
			yaml: community + "          - {name: 一, level: grid}\n",
			want: []string{`node 450105001001 (二桥西社区): children[0]: missing key "code"`},
		},
		{
			name: "missing level",
			yaml: community + "          - {code: \"450105001001001\", name: 一}\n",
			want: []string{`node 450105001001 (二桥西社区): children[0]: missing key "level" (want grid)`},
		},
		{
			name: "unknown level",
			yaml: community + grid(`"450105001001001"`, "一", "village"),
			want: []string{`node 450105001001 (二桥西社区): children[0].level: unknown level "village" (want one of district, subdistrict, community, grid)`},
		},
		{
			name: "wrong level order",
			yaml: community + grid(`"450105001001001"`, "一", "community"),
			want: []string{`node 450105001001 (二桥西社区): children[0].level "community": a child of a community must be a grid`},
		},
		{
			name: "root not a district",
			yaml: "code: \"450105\"\nname: 江南区\nlevel: subdistrict\n",
			want: []string{`root.level "subdistrict": the root must be a district`},
		},
		{
			name: "root code not 6 digits",
			yaml: "code: \"4501051\"\nname: 江南区\nlevel: district\n",
			want: []string{`root.code "4501051": must be a 6-digit district code (GB/T 2260), e.g. "450105"`},
		},
		{
			name: "grid with children",
			yaml: community + "          - code: \"450105001001001\"\n            name: 一\n            level: grid\n            children:\n              - {code: \"450105001001001001\", name: 小区, level: grid}\n",
			want: []string{`node 450105001001 (二桥西社区): children[0].children: a grid cannot have children`},
		},
		{
			name: "children not a list",
			yaml: "code: \"450105\"\nname: 江南区\nlevel: district\nchildren: {code: \"450105001\"}\n",
			want: []string{`root.children: must be a list of nodes, not a mapping`},
		},
		{
			name: "child not a mapping",
			yaml: "code: \"450105\"\nname: 江南区\nlevel: district\nchildren: [\"450105001\"]\n",
			want: []string{`node 450105 (江南区): children[0]: must be a mapping with keys code, name, level and children, not a string`},
		},
		{
			name: "empty document",
			yaml: "# nothing\n",
			want: []string{`the document is empty: want a district node with keys code, name, level and children`},
		},
		{
			name: "document is a list",
			yaml: "- code: \"450105\"\n",
			want: []string{`root: must be a mapping with keys code, name, level and children, not a list`},
		},
		{
			name: "several problems at once, named by the parent even if the parent's name is bad",
			yaml: "code: \"450105\"\nname: \"\"\nlevel: district\nchildren:\n  - {code: \"450105001\", name: 江南街道, level: community}\n  - {code: \"4501050002\", name: 福建园街道, level: subdistrict, extra: 1}\n",
			want: []string{
				`root.name: must not be empty`,
				`node 450105: children[0].level "community": a child of a district must be a subdistrict`,
				`node 450105: children[1]: unknown key "extra" (want code, name, level, children)`,
				`node 450105: children[1].code "4501050002": must be its parent's code plus 3 digits`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := region.Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded with %d nodes; want errors %q", tree.Len(), tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

func TestParseRejectsDuplicateYAMLKeys(t *testing.T) {
	_, err := region.Parse([]byte("code: \"450105\"\nname: 江南区\nname: 另一个\nlevel: district\n"))
	if err == nil || !strings.Contains(err.Error(), `"name" already set`) {
		t.Fatalf("Parse(duplicate key) error = %v", err)
	}
}

func TestParseCapsProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("code: \"450105\"\nname: 江南区\nlevel: district\nchildren:\n")
	for i := range 80 {
		fmt.Fprintf(&b, "  - {code: \"x%d\", name: 街道, level: subdistrict}\n", i)
	}
	_, err := region.Parse([]byte(b.String()))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 51 || lines[50] != "… and 30 more problems" {
		t.Errorf("got %d lines ending %q", len(lines), lines[len(lines)-1])
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, region.DemoYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := region.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Len() != region.Demo().Len() {
		t.Errorf("Load(demo) has %d nodes", tree.Len())
	}

	bad := filepath.Join(dir, "regions.yaml")
	broken := strings.Replace(string(region.DemoYAML()), `"450105001001003"`, `"4501050019"`, 1)
	if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = region.Load(bad)
	want := bad + `: node 450105001001 (二桥西社区): children[2].code "4501050019": must be its parent's code plus 3 digits`
	if err == nil || err.Error() != want {
		t.Errorf("Load(bad) error = %v\nwant %s", err, want)
	}

	if _, err := region.Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want ErrNotExist", err)
	}
}
