package overlay_test

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestGOMAXPROCSFollowsTheCPULimit: the connection budget (and the pool size the services
// choose) assumes GOMAXPROCS is the container's CPU limit, which the Go runtime sets itself
// from the cgroup since Go 1.25, for a main module that declares go 1.25 or later and does not
// turn it off (godebug containermaxprocs=0 or updatemaxprocs=0).
func TestGOMAXPROCSFollowsTheCPULimit(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var goVersion string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "go "); ok {
			goVersion = v
		}
		if strings.Contains(line, "containermaxprocs") || strings.Contains(line, "updatemaxprocs") {
			t.Errorf("go.mod: %q: the runtime must keep GOMAXPROCS at the CPU limit", line)
		}
	}
	parts := strings.Split(goVersion, ".")
	minor := 0
	if len(parts) >= 2 {
		minor, _ = strconv.Atoi(parts[1])
	}
	if len(parts) < 2 || parts[0] != "1" || minor < 25 {
		t.Errorf("go.mod declares go %q: GOMAXPROCS follows the CPU limit from go 1.25", goVersion)
	}
}
