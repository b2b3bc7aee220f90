package region

import (
	_ "embed"
	"fmt"
)

// A string, not []byte, so the embedded source cannot be altered at run time.
//
//go:embed demo/jiangnan.yaml
var demoYAML string

// Demo returns the Jiangnan District (南宁市江南区, 450105) demonstration tree: four
// sub-districts, twelve communities, three grids in each community. It is the tree `jiayuan dev`
// and tests use. Each call parses the embedded file afresh, so callers share nothing.
func Demo() *Tree {
	t, err := parse("demo/jiangnan.yaml", []byte(demoYAML))
	if err != nil {
		// The file is embedded and covered by tests; failing here is a build defect.
		panic(fmt.Sprintf("region: embedded demo tree is invalid: %v", err))
	}
	return t
}

// DemoYAML returns a copy of the demo tree's source, a starting point for a district's own file.
func DemoYAML() []byte { return []byte(demoYAML) }
