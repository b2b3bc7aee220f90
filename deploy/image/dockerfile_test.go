package image_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// instructions reads a Dockerfile into its instructions (continuation lines joined, comments
// dropped) and the defaults of its ARGs.
func instructions(t *testing.T, path string) (lines []string, args map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	args = map[string]string{}
	var cur strings.Builder
	for _, l := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
		if strings.HasSuffix(trimmed, "\\") {
			continue
		}
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			continue
		}
		lines = append(lines, line)
		if rest, ok := strings.CutPrefix(line, "ARG "); ok {
			if k, v, ok := strings.Cut(rest, "="); ok {
				if _, seen := args[k]; !seen {
					args[k] = v
				}
			}
		}
	}
	return lines, args
}

func TestDockerfile(t *testing.T) {
	lines, args := instructions(t, "../../Dockerfile")
	var froms []string
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "FROM "); ok {
			image := strings.Fields(rest)[0]
			if name, ok := strings.CutPrefix(image, "${"); ok {
				image = args[strings.TrimSuffix(name, "}")]
			}
			froms = append(froms, image)
		}
	}
	if len(froms) != 2 {
		t.Fatalf("FROM images %v, want a build stage and a runtime stage", froms)
	}
	goImage := regexp.MustCompile(`^golang:(1\.\d+)\.(\d+)-[a-z]+$`).FindStringSubmatch(froms[0])
	if goImage == nil {
		t.Fatalf("build stage %q: want golang:<major>.<minor>.<patch>-<distribution>", froms[0])
	}
	if !regexp.MustCompile(`^gcr\.io/distroless/static-debian\d+:nonroot$`).MatchString(froms[1]) {
		t.Errorf("runtime stage %q: want a distroless static image's nonroot tag", froms[1])
	}
	for _, f := range froms {
		if strings.HasSuffix(f, ":latest") || !strings.Contains(f, ":") {
			t.Errorf("image %q is not pinned", f)
		}
	}

	// The image's Go is the workspace's: its toolchain line if it has one, else at least its go
	// line, in the same minor release.
	data, err := os.ReadFile("../../go.work")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^go (1\.\d+)\.(\d+)\s*$`).FindStringSubmatch(string(data))
	if tc := regexp.MustCompile(`(?m)^toolchain go(1\.\d+)\.(\d+)\s*$`).FindStringSubmatch(string(data)); tc != nil {
		want = tc
	}
	if want == nil {
		t.Fatal("go.work has no go line")
	}
	patch, _ := strconv.Atoi(goImage[2])
	wantPatch, _ := strconv.Atoi(want[2])
	if goImage[1] != want[1] || patch < wantPatch {
		t.Errorf("build stage uses Go %s.%s, go.work wants %s.%s", goImage[1], goImage[2], want[1], want[2])
	}

	all := strings.Join(lines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "GOTOOLCHAIN=local", "go build -trimpath", "./cmd/jiayuan", "USER 65532:65532", `ENTRYPOINT ["/usr/local/bin/jiayuan"]`} {
		if !strings.Contains(all, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}

	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "deploy/k8s/secrets/*.env"} {
		if !strings.Contains(string(ignore), want+"\n") {
			t.Errorf(".dockerignore does not keep %s out of the build context", want)
		}
	}
}
