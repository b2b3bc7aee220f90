package main

import (
	"fmt"
	"testing"
)

func TestRoundsInterleaveAndMedianRatio(t *testing.T) {
	var order []string
	rps := map[string][]float64{"base": {100, 200, 400}, "svc": {50, 60, 300}}
	calls := map[string]int{}
	measure := func(name string, _ func(int64) error) result {
		order = append(order, name)
		base := name[:len(name)-len(" (1/3)")]
		r := result{name: name, rps: rps[base][calls[base]]}
		calls[base]++
		return r
	}
	got := rounds(3, measure, named{"base", nil}, named{"svc", nil})
	// Each round starts one run further on.
	want := []string{"base (1/3)", "svc (1/3)", "svc (2/3)", "base (2/3)", "base (3/3)", "svc (3/3)"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	// Per round: 0.5, 0.3, 0.75; the median is 0.5, not the ratio of the means (410/700).
	if m := medianRatio(got[1], got[0]); m != 0.5 {
		t.Fatalf("median ratio %v, want 0.5", m)
	}
	if m := medianRatio(got[1][:2], got[0][:2]); m != 0.4 {
		t.Fatalf("median of two rounds %v, want 0.4", m)
	}
}
