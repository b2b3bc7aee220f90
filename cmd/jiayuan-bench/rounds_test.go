package main

import (
	"fmt"
	"testing"
	"time"
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

// A run's median round takes each figure's median apart, so one bad round moves none of them.
func TestMedianOf(t *testing.T) {
	ms := time.Millisecond
	rs := []result{
		{name: "gRPC MatchPartners (10000 active partners) (1/3)", ops: 10, rps: 600, p50: 20 * ms, p99: 48 * ms},
		{name: "gRPC MatchPartners (10000 active partners) (2/3)", ops: 8, errors: 1, rps: 450, p50: 30 * ms, p99: 80 * ms},
		{name: "gRPC MatchPartners (10000 active partners) (3/3)", ops: 11, rps: 650, p50: 22 * ms, p99: 45 * ms},
	}
	got := medianOf(rs)
	want := result{name: "gRPC MatchPartners (10000 active partners) (median of 3)", ops: 29, errors: 1, rps: 600, p50: 22 * ms, p99: 48 * ms}
	if got != want {
		t.Fatalf("median %+v, want %+v", got, want)
	}
	if two := medianOf(rs[:2]); two.p99 != 64*ms || two.rps != 525 {
		t.Fatalf("median of two rounds %+v, want the means of the middle values", two)
	}
	if one := medianOf(rs[:1]); one != rs[0] {
		t.Fatalf("one round %+v, want it unchanged", one)
	}
}
