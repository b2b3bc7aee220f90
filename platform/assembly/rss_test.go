package assembly_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssBytes is the process's resident set size now (Linux; the test is skipped elsewhere).
func rssBytes(t *testing.T) int64 { return procStatus(t, "VmRSS:") }

// peakRSSBytes is the process's largest resident set size so far.
func peakRSSBytes(t *testing.T) int64 { return procStatus(t, "VmHWM:") }

func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status to read RSS from: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}
