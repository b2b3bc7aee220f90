// Package yamldoc holds what the platform's configuration files (the region tree, a
// district's rules) share: reading YAML strictly into plain values, and collecting every
// problem found in a document, each prefixed by the file it came from, so a district IT
// department fixes them all in one pass.
package yamldoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"sigs.k8s.io/yaml"
)

// maxProblems bounds how many problems one document reports, so a badly broken file does not
// bury the first mistakes.
const maxProblems = 50

// Problems collects the problems of one document. The zero value is ready, for a document
// with no source name.
type Problems struct {
	source string
	list   []error
}

// New returns a collector whose problems start with source (a file path), when not empty.
func New(source string) *Problems { return &Problems{source: source} }

// Errorf is a problem as an error, prefixed by the source.
func (p *Problems) Errorf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if p.source != "" {
		msg = p.source + ": " + msg
	}
	return errors.New(msg)
}

// Add records a problem.
func (p *Problems) Add(format string, args ...any) {
	p.list = append(p.list, p.Errorf(format, args...))
}

// Err joins the problems recorded (at most 50, then a count of the rest), or nil.
func (p *Problems) Err() error {
	list := p.list
	if len(list) > maxProblems {
		list = append(list[:maxProblems:maxProblems], p.Errorf("… and %d more problems", len(list)-maxProblems))
	}
	return errors.Join(list...)
}

// Decode turns YAML into plain values (maps, slices, strings, bools), numbers kept as
// json.Number so that an unquoted code or a bare number where a duration belongs can be
// reported rather than silently converted. Duplicate keys are a problem. An empty document is
// the problem empty, e.g. "the document is empty: want …".
func (p *Problems) Decode(data []byte, empty string) (any, bool) {
	// YAMLToJSONStrict rejects duplicate keys, which plain YAML decoding would silently merge.
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		p.Add("%v", err)
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		p.Add("decoding: %v", err)
		return nil, false
	}
	if doc == nil {
		p.Add("%s", empty)
		return nil, false
	}
	return doc, true
}

// Kind names what Decode made of a value, for a problem's message: "a string", "a number",
// "a boolean", "a list", "a mapping" or "null".
func Kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
