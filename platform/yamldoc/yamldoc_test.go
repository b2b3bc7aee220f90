package yamldoc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"mapping", "code: \"450105\"\ncount: 3\n", "", true},
		{"duplicate keys", "a: 1\na: 2\n", `f.yaml: yaml: unmarshal errors`, false},
		{"empty", "", "f.yaml: the document is empty: want a district", false},
		{"broken", "a: [1, 2\n", "f.yaml:", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New("f.yaml")
			doc, ok := p.Decode([]byte(tt.in), "the document is empty: want a district")
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (%v)", ok, tt.ok, p.Err())
			}
			if !ok {
				if err := p.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.want)
				}
				return
			}
			if n := doc.(map[string]any)["count"]; n != json.Number("3") {
				t.Fatalf("number decoded as %T %v, want json.Number 3", n, n)
			}
		})
	}
}

func TestErrCapsAndPrefixes(t *testing.T) {
	var none Problems
	if none.Err() != nil {
		t.Fatal("no problems, yet an error")
	}
	p := New("rules.yaml")
	for i := range 60 {
		p.Add("problem %d", i)
	}
	lines := strings.Split(p.Err().Error(), "\n")
	if len(lines) != 51 || lines[0] != "rules.yaml: problem 0" || lines[50] != "rules.yaml: … and 10 more problems" {
		t.Fatalf("%d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
	if got := fmt.Sprint(p.Err()); !strings.HasPrefix(got, "rules.yaml: problem 0") {
		t.Fatal(got)
	}
}

func TestKind(t *testing.T) {
	doc, ok := New("").Decode([]byte("str: x\nnum: 3\nbool: true\nlist: [1]\nmap: {a: 1}\nnothing: null\n"), "empty")
	if !ok {
		t.Fatal("Decode failed")
	}
	m := doc.(map[string]any)
	for key, want := range map[string]string{"str": "a string", "num": "a number", "bool": "a boolean", "list": "a list", "map": "a mapping", "nothing": "null"} {
		if got := Kind(m[key]); got != want {
			t.Errorf("Kind(%s) = %q, want %q", key, got, want)
		}
	}
	if got := Kind(3.5); got != "float64" {
		t.Errorf("Kind(3.5) = %q", got)
	}
}
