package reporting_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/services/reporting"
)

const goodRollup = `city: "450100"
name: 南宁市
deadline: 2s
districts:
  - code: "450105"
    name: 江南区
    address: reporting.jiayuan-jiangnan.svc:9090
    token_file: /etc/jiayuan/district-tokens/450105
  - code: "450103"
    name: 青秀区
    address: reporting.jiayuan-qingxiu.svc:9090
    token_file: /etc/jiayuan/district-tokens/450103
`

func TestParseRollup(t *testing.T) {
	f, err := reporting.ParseRollup("rollup.yaml", []byte(goodRollup))
	if err != nil {
		t.Fatal(err)
	}
	if f.City != "450100" || len(f.Districts) != 2 || f.Districts[1].Name != "青秀区" || f.DeadlineOrDefault() != 2*time.Second {
		t.Errorf("parsed %+v", f)
	}
	tree, err := f.Tree()
	if err != nil || tree.Root().Code != "450100" || tree.Root().Name != "南宁市" || tree.Len() != 1 {
		t.Errorf("tree %v, %v", tree, err)
	}
	for _, tc := range []struct {
		name, from, to string
		want           []string
	}{
		{"not a list", goodRollup[strings.Index(goodRollup, "districts:"):], "districts: 江南区\n", []string{"rollup.yaml:", "districts"}},
		{"unknown key", `deadline: 2s`, "deadline: 2s\nzone: x", []string{"zone"}},
		{"bad city", `city: "450100"`, `city: "4501"`, []string{`city "4501"`}},
		{"no name", "name: 南宁市\n", "", []string{"name: the city's name"}},
		{"bad deadline", `deadline: 2s`, `deadline: 2m`, []string{`deadline "2m"`}},
		{"twice", `code: "450103"`, `code: "450105"`, []string{`districts[1].code "450105": listed twice`}},
		{"same name", `name: 青秀区`, `name: 江南区`, []string{`districts[1].name "江南区": listed twice`}},
		{"bad address", `reporting.jiayuan-qingxiu.svc:9090`, `reporting.jiayuan-qingxiu.svc`, []string{"districts[1].address"}},
		{"relative token", `/etc/jiayuan/district-tokens/450103`, `450103`, []string{`districts[1].token_file "450103"`}},
		{"no districts", goodRollup[strings.Index(goodRollup, "districts:"):], "districts: []\n", []string{"at least one district"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reporting.ParseRollup("rollup.yaml", []byte(strings.Replace(goodRollup, tc.from, tc.to, 1)))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
