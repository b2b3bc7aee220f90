package rules

import (
	_ "embed"
	"fmt"
)

// A string, not []byte, so the embedded source cannot be altered at run time.
//
//go:embed demo/jiangnan.yaml
var demoYAML string

// Demo returns the Jiangnan District (南宁市江南区, 450105) demonstration rules, the companion of
// region.Demo: every category coloured with refinements, limits per colour, a two-step
// escalation ladder, the district's departments and the 2026 holiday calendar. Each call parses
// the embedded file afresh, so callers share nothing.
func Demo() *Rules {
	r, err := Parse([]byte(demoYAML))
	if err != nil {
		// The file is embedded and covered by tests; failing here is a build defect.
		panic(fmt.Sprintf("rules: embedded demo rules are invalid: %v", err))
	}
	return r
}

// DemoYAML returns a copy of the demo rules' source, a starting point for a district's own file.
func DemoYAML() []byte { return []byte(demoYAML) }
