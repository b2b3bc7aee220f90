package personal_test

import (
	"testing"

	"github.com/jiayuan/jiayuan/platform/personal"
)

func TestMaskName(t *testing.T) {
	tests := map[string]string{
		"张三丰":       "张**",
		"李四":        "李*",
		"王":         "*",
		"":          "",
		" 欧阳娜娜 ":    "欧***",
		"买买提·艾力":    "买*****",
		"Zhang Wei": "Z********",
		"  ":        "",
		"司马相如\t":    "司***",
		"阿依古丽·买买提明": "阿********",
	}
	for in, want := range tests {
		if got := personal.MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	tests := map[string]string{
		"13812345678":      "138****5678",
		"138-1234-5678":    "138-****-5678",
		"138 1234 5678":    "138 **** 5678",
		"+86 13812345678":  "+86 138****5678",
		"+8613812345678":   "+86138****5678",
		"0771-5551234":     "0771-***1234",
		"0771-55512345":    "0771-****2345",
		"07715551234":      "0771***1234",
		"010-12345678":     "010-****5678",
		"01012345678":      "010****5678",
		"020 8888 1234":    "020 **** 1234",
		"(0771)5551234":    "(0771)***1234",
		"5551234":          "***1234",
		"55512345":         "****2345",
		"12345":            "*****",
		"110":              "***",
		"":                 "",
		"手机13812345678":    "手机138****5678",
		"9555812345678901": "************8901",
	}
	for in, want := range tests {
		if got := personal.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskAddress(t *testing.T) {
	tests := map[string]string{
		"二桥西社区5栋2单元301":        "二桥西社区****",
		"广西壮族自治区南宁市江南区星光大道12号": "广西壮族自治区南宁市****",
		"江南区那洪街道沛鸿社区３栋":        "江南区那洪街****", // at most half the characters
		"富景小区": "富景****",
		"南宁市江南区福建园街道壮锦社区兴宁巷十二号": "南宁市江南区福建园街****",
		"1栋": "****",
		"":   "",
		"村":  "****",
	}
	for in, want := range tests {
		if got := personal.MaskAddress(in); got != want {
			t.Errorf("MaskAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
