package region

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/jiayuan/jiayuan/platform/yamldoc"
)

var nodeKeys = []string{"code", "name", "level", "children"}

// Load reads and parses a region tree file. Every problem in the error starts with path.
func Load(path string) (*Tree, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading region tree: %w", err)
	}
	return parse(path, data)
}

// Parse parses and validates a region tree document: a district node whose children are
// sub-districts, theirs communities, theirs grids. Each node is a mapping with exactly the keys
// code, name, level and children (children optional). All problems found are reported together,
// each naming the node and key, e.g.
//
//	node 450105001001 (二桥西社区): children[2].code "4501050019": must be its parent's code plus 3 digits
func Parse(data []byte) (*Tree, error) {
	return parse("", data)
}

func parse(source string, data []byte) (*Tree, error) {
	p := &parser{Problems: yamldoc.New(source), index: make(map[string]int)}
	if doc, ok := p.Decode(data, "the document is empty: want a district node with keys code, name, level and children"); ok {
		p.node(doc, "root", nil, LevelDistrict)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	t := &Tree{nodes: p.nodes, index: p.index, children: p.children, end: make([]int, len(p.nodes))}
	// Pre-order makes each subtree contiguous; fill its end from the leaves up.
	for i := len(t.nodes) - 1; i >= 0; i-- {
		t.end[i] = i + 1
		if kids := t.children[i]; len(kids) > 0 {
			t.end[i] = t.end[kids[len(kids)-1]]
		}
	}
	return t, nil
}

type parser struct {
	*yamldoc.Problems
	nodes    []Node
	index    map[string]int
	children [][]int
}

// node validates one node and its subtree. where names it for messages ("root" or
// "node 450105001 (江南街道): children[2]"); parent is nil for the root; want is the level the
// node must have.
func (p *parser) node(raw any, where string, parent *Node, want Level) {
	m, ok := raw.(map[string]any)
	if !ok {
		p.Add("%s: must be a mapping with keys code, name, level and children, not %s", where, yamldoc.Kind(raw))
		return
	}
	var unknown []string
	for k := range m {
		if !slices.Contains(nodeKeys, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		p.Add("%s: unknown key %q (want code, name, level, children)", where, k)
	}

	n := Node{Level: want}
	if parent != nil {
		n.Parent = parent.Code
	}
	codeOK := p.code(m, where, parent, &n)
	nameOK := p.name(m, where, &n)
	p.level(m, where, parent, want)

	kids, kidsOK := p.childList(m, where, want)
	if !codeOK {
		// Children's codes are checked against this one; with it wrong they would only add noise.
		return
	}
	self := len(p.nodes)
	p.index[n.Code] = self
	p.nodes = append(p.nodes, n)
	p.children = append(p.children, nil)
	if !kidsOK {
		return
	}
	childWhere := "node " + n.Code
	if nameOK {
		childWhere = "node " + n.String()
	}
	childLevel, _ := want.Child()
	for i, c := range kids {
		pos := len(p.nodes)
		p.node(c, fmt.Sprintf("%s: children[%d]", childWhere, i), &n, childLevel)
		if len(p.nodes) > pos {
			p.children[self] = append(p.children[self], pos)
		}
	}
}

func (p *parser) code(m map[string]any, where string, parent *Node, n *Node) bool {
	raw, ok := m["code"]
	if !ok {
		p.Add("%s: missing key \"code\"", where)
		return false
	}
	code, ok := raw.(string)
	if !ok {
		if num, isNum := raw.(json.Number); isNum {
			p.Add("%s.code %s: must be a quoted string, e.g. code: \"%s\"", where, num, num)
		} else {
			p.Add("%s.code: must be a string of digits, not %s", where, yamldoc.Kind(raw))
		}
		return false
	}
	if parent == nil {
		if len(code) != LevelDistrict.CodeLen() || !digits(code) {
			p.Add("%s.code %q: must be a 6-digit district code (GB/T 2260), e.g. \"450105\"", where, code)
			return false
		}
	} else {
		if len(code) != len(parent.Code)+3 || !strings.HasPrefix(code, parent.Code) || !digits(code) {
			p.Add("%s.code %q: must be its parent's code plus 3 digits", where, code)
			return false
		}
		if strings.HasSuffix(code, "000") {
			p.Add("%s.code %q: the 3 digits added to its parent's code must not be 000", where, code)
			return false
		}
	}
	if prev, dup := p.index[code]; dup {
		p.Add("%s.code %q: duplicate code, already used by node %s", where, code, p.nodes[prev])
		return false
	}
	n.Code = code
	return true
}

func (p *parser) name(m map[string]any, where string, n *Node) bool {
	raw, ok := m["name"]
	if !ok {
		p.Add("%s: missing key \"name\"", where)
		return false
	}
	name, ok := raw.(string)
	switch {
	case !ok:
		// YAML reads bare y, no, on, 123 … as booleans and numbers; say how to fix it.
		p.Add("%s.name: must be a string, not %s (put it in quotes)", where, yamldoc.Kind(raw))
		return false
	case strings.TrimSpace(name) == "":
		p.Add("%s.name: must not be empty", where)
		return false
	case strings.TrimSpace(name) != name:
		p.Add("%s.name %q: must not begin or end with spaces", where, name)
		return false
	}
	n.Name = name
	return true
}

func (p *parser) level(m map[string]any, where string, parent *Node, want Level) {
	raw, ok := m["level"]
	if !ok {
		p.Add("%s: missing key \"level\" (want %s)", where, want)
		return
	}
	s, ok := raw.(string)
	if !ok {
		p.Add("%s.level: must be one of district, subdistrict, community, grid, not %s", where, yamldoc.Kind(raw))
		return
	}
	l, err := ParseLevel(s)
	switch {
	case err != nil:
		p.Add("%s.level: %v", where, err)
	case l != want && parent == nil:
		p.Add("%s.level %q: the root must be a district", where, s)
	case l != want:
		p.Add("%s.level %q: a child of a %s must be a %s", where, s, parent.Level, want)
	}
}

func (p *parser) childList(m map[string]any, where string, level Level) ([]any, bool) {
	raw, ok := m["children"]
	if !ok || raw == nil {
		return nil, true
	}
	kids, ok := raw.([]any)
	if !ok {
		p.Add("%s.children: must be a list of nodes, not %s", where, yamldoc.Kind(raw))
		return nil, false
	}
	if _, hasChild := level.Child(); !hasChild && len(kids) > 0 {
		p.Add("%s.children: a %s cannot have children", where, level)
		return nil, false
	}
	return kids, true
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
