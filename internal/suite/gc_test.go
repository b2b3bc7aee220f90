package suite_test

import (
	"runtime/debug"
	"testing"

	"github.com/jiayuan/jiayuan/internal/suite"
)

func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"unset: the node's target", nil, suite.GCPercent},
		{"the operator's GOGC is left alone", map[string]string{"GOGC": "150"}, 77},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := debug.SetGCPercent(77)
			t.Cleanup(func() { debug.SetGCPercent(before) })
			suite.TuneGC(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if got := debug.SetGCPercent(77); got != tc.want {
				t.Fatalf("GC percent %d, want %d", got, tc.want)
			}
		})
	}
}
