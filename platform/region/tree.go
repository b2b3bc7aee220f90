// Package region holds the administrative region tree a deployment serves: district 区 →
// sub-district 街道 → community 社区 → grid 网格. Every record in the system belongs to a
// node of this tree, and every official acts within a subtree of it.
//
// Codes follow GB/T 2260 and the statistical division code: a district has 6 digits
// (450105 = 南宁市江南区) and each level below adds 3 digits to its parent's code
// (450105001 江南街道, 450105001001 二桥西社区, 450105001001001 its first grid).
// The parser enforces that, but lookups such as [Tree.Contains] walk the tree itself rather
// than trusting prefixes, so a code that merely looks like a descendant is not one.
package region

import "fmt"

// Node is one place in the region tree. It is a value: changing it does not change the tree.
type Node struct {
	Code   string
	Name   string
	Level  Level
	Parent string // the parent's code; empty for the root
}

// String returns the node as "450105001 (江南街道)".
func (n Node) String() string { return fmt.Sprintf("%s (%s)", n.Code, n.Name) }

// Tree is a validated region tree. It is immutable once built, so it is safe for concurrent use.
type Tree struct {
	nodes    []Node         // pre-order, as in the source file
	index    map[string]int // code → position in nodes
	children [][]int        // positions of each node's children, in source order
	end      []int          // nodes[i:end[i]] is the subtree rooted at nodes[i]
}

// UnknownCodeError reports a region code that is not in the tree.
type UnknownCodeError struct {
	Code string
}

func (e *UnknownCodeError) Error() string {
	return fmt.Sprintf("region code %q is not in the region tree", e.Code)
}

// Root returns the district at the root of the tree.
func (t *Tree) Root() Node { return t.nodes[0] }

// Len returns the number of nodes in the tree.
func (t *Tree) Len() int { return len(t.nodes) }

// Get returns the node with the given code.
func (t *Tree) Get(code string) (Node, bool) {
	i, ok := t.index[code]
	if !ok {
		return Node{}, false
	}
	return t.nodes[i], true
}

// Validate returns an *UnknownCodeError unless code is in the tree. It is meant for checking
// region codes that arrive in API requests.
func (t *Tree) Validate(code string) error {
	if _, ok := t.index[code]; !ok {
		return &UnknownCodeError{Code: code}
	}
	return nil
}

// Contains reports whether code is ancestor itself or one of its descendants. It is false when
// either code is not in the tree.
func (t *Tree) Contains(ancestor, code string) bool {
	if _, ok := t.index[ancestor]; !ok {
		return false
	}
	i, ok := t.index[code]
	for ok {
		n := t.nodes[i]
		if n.Code == ancestor {
			return true
		}
		i, ok = t.index[n.Parent]
	}
	return false
}

// Path returns the nodes from the root down to code, inclusive; nil if code is not in the tree.
func (t *Tree) Path(code string) []Node {
	i, ok := t.index[code]
	if !ok {
		return nil
	}
	var path []Node
	for ok {
		path = append(path, t.nodes[i])
		i, ok = t.index[t.nodes[i].Parent]
	}
	for l, r := 0, len(path)-1; l < r; l, r = l+1, r-1 {
		path[l], path[r] = path[r], path[l]
	}
	return path
}

// Children returns the direct children of code in source order; nil if it has none or is not in
// the tree.
func (t *Tree) Children(code string) []Node {
	i, ok := t.index[code]
	if !ok || len(t.children[i]) == 0 {
		return nil
	}
	out := make([]Node, len(t.children[i]))
	for k, c := range t.children[i] {
		out[k] = t.nodes[c]
	}
	return out
}

// Subtree returns code and all its descendants in pre-order; nil if code is not in the tree.
func (t *Tree) Subtree(code string) []Node {
	i, ok := t.index[code]
	if !ok {
		return nil
	}
	return append([]Node(nil), t.nodes[i:t.end[i]]...)
}

// Nodes returns every node in pre-order (a parent before its children, siblings in source
// order), which is stable for a given source file.
func (t *Tree) Nodes() []Node { return append([]Node(nil), t.nodes...) }
