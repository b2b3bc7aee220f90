package region_test

import (
	"testing"

	"github.com/jiayuan/jiayuan/platform/region"
)

func TestCheckCode(t *testing.T) {
	tests := []struct {
		code string
		want region.Level // "" when the code is refused
	}{
		{code: "450105", want: region.LevelDistrict},
		{code: "450105001", want: region.LevelSubdistrict},
		{code: "450105001001", want: region.LevelCommunity},
		{code: "450105001001003", want: region.LevelGrid},
		{code: "999999999", want: region.LevelSubdistrict}, // the shape only; the tree is not asked
		{code: ""},
		{code: "45"},
		{code: "4501"},
		{code: "4501050"},
		{code: "45010500100"},
		{code: "4501050010010031"},
		{code: "450105001001003001"},
		{code: "45010500100a"},
		{code: "4501%"},
		{code: " 450105"},
		{code: "４５０１０５"}, // full-width digits
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := region.CheckCode(tt.code)
			level, ok := region.LevelOf(tt.code)
			if tt.want == "" {
				if err == nil || ok {
					t.Fatalf("CheckCode(%q) = nil, LevelOf ok = %v; want refused", tt.code, ok)
				}
				return
			}
			if err != nil || !ok || level != tt.want {
				t.Fatalf("CheckCode(%q) = %v, LevelOf = %q %v; want %s", tt.code, err, level, ok, tt.want)
			}
		})
	}
}

func TestCodeLen(t *testing.T) {
	want := map[region.Level]int{region.LevelDistrict: 6, region.LevelSubdistrict: 9, region.LevelCommunity: 12, region.LevelGrid: 15, "street": 0}
	for l, n := range want {
		if got := l.CodeLen(); got != n {
			t.Errorf("%q.CodeLen() = %d, want %d", l, got, n)
		}
	}
}

func TestCommon(t *testing.T) {
	for _, tt := range []struct {
		codes []string
		want  string
	}{
		{nil, ""},
		{[]string{"450105001001"}, "450105001001"},
		{[]string{"450105001001", "450105001001002"}, "450105001001"},
		{[]string{"450105001001", "450105001002"}, "450105001"},
		{[]string{"450105001001", "450105002003"}, "450105"},
		{[]string{"450105001001", "450106001001"}, ""},
		{[]string{"450105001001", ""}, ""},
		{[]string{"450105001001", "not a code"}, ""},
	} {
		if got := region.Common(tt.codes...); got != tt.want {
			t.Errorf("Common(%q) = %q, want %q", tt.codes, got, tt.want)
		}
	}
}
