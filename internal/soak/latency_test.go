package soak

import (
	"testing"
	"time"
)

func TestLatencyThirdsSplitsByStart(t *testing.T) {
	ms := time.Millisecond
	l := &latencies{byOp: make([][]call, 2)}
	// Op 0: fast in the first third (starts before 10 s of 30), slow in the last (from 20 s);
	// the middle third's calls count in neither.
	for i := range 100 {
		l.add(0, time.Duration(i)*100*ms, time.Duration(1+i%2)*ms)               // 0–9.9 s: 1 or 2 ms
		l.add(0, 10*time.Second+time.Duration(i)*100*ms, 500*ms)                 // the middle: ignored
		l.add(0, 20*time.Second+time.Duration(i)*100*ms, time.Duration(10+i)*ms) // 10–109 ms
	}
	got := l.thirds([]op{{name: "slows"}, {name: "never called"}}, 30*time.Second)
	want := []OpLatency{
		{Op: "slows", FirstP50: 1 * ms, FirstP99: 2 * ms, LastP50: 59 * ms, LastP99: 108 * ms, FirstCalls: 100, LastCalls: 100},
		{Op: "never called"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("op %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
