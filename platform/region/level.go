package region

import "fmt"

// Level is a rank in the administrative hierarchy.
type Level string

// The levels, from the root down. A child is always exactly one level below its parent.
const (
	LevelDistrict    Level = "district"    // 区
	LevelSubdistrict Level = "subdistrict" // 街道
	LevelCommunity   Level = "community"   // 社区
	LevelGrid        Level = "grid"        // 网格
)

// levels lists the levels in order; the index is the depth in the tree.
var levels = [...]Level{LevelDistrict, LevelSubdistrict, LevelCommunity, LevelGrid}

// Levels returns every level, from the root down.
func Levels() []Level { return append([]Level(nil), levels[:]...) }

// ParseLevel returns the level named s.
func ParseLevel(s string) (Level, error) {
	l := Level(s)
	if l.depth() < 0 {
		return "", fmt.Errorf("unknown level %q (want one of district, subdistrict, community, grid)", s)
	}
	return l, nil
}

// Valid reports whether l is one of the four levels.
func (l Level) Valid() bool { return l.depth() >= 0 }

// Child returns the level just below l; ok is false for a grid, which has no children.
func (l Level) Child() (child Level, ok bool) {
	d := l.depth()
	if d < 0 || d+1 >= len(levels) {
		return "", false
	}
	return levels[d+1], true
}

// Chinese returns the level's Chinese name (区, 街道, 社区, 网格).
func (l Level) Chinese() string {
	switch l {
	case LevelDistrict:
		return "区"
	case LevelSubdistrict:
		return "街道"
	case LevelCommunity:
		return "社区"
	case LevelGrid:
		return "网格"
	}
	return ""
}

func (l Level) depth() int {
	for i, x := range levels {
		if x == l {
			return i
		}
	}
	return -1
}

// CodeLen returns the length of a code at level l: 6 digits for a district (GB/T 2260), 3 more
// per level below (sub-district 9, community 12, grid 15); 0 for an unknown level.
func (l Level) CodeLen() int {
	if l.depth() < 0 {
		return 0
	}
	return 6 + 3*l.depth()
}

// LevelOf returns the level a code of this shape would be at, by its length: 6 digits a
// district, 9 a sub-district, 12 a community, 15 a grid. ok is false for anything else. It
// says nothing of whether the tree holds the code (Tree.Validate does).
func LevelOf(code string) (l Level, ok bool) {
	if !digits(code) {
		return "", false
	}
	for _, l := range levels {
		if len(code) == l.CodeLen() {
			return l, true
		}
	}
	return "", false
}

// CheckCode accepts a region code of any level's shape (6, 9, 12 or 15 digits) and explains
// anything else: the rule for a code a caller sends where the tree is not consulted, such as
// a list filter selecting a subtree.
func CheckCode(code string) error {
	if _, ok := LevelOf(code); !ok {
		return fmt.Errorf("%q is not a region code (6, 9, 12 or 15 digits)", code)
	}
	return nil
}

// Common returns the code of the smallest region enclosing every code given, by their shared
// prefix cut to a level's length (a code extends its parent's); "" when they share no district
// or none is given.
func Common(codes ...string) string {
	if len(codes) == 0 {
		return ""
	}
	prefix := codes[0]
	for _, c := range codes[1:] {
		n := 0
		for n < len(prefix) && n < len(c) && prefix[n] == c[n] {
			n++
		}
		prefix = prefix[:n]
	}
	for i := len(levels) - 1; i >= 0; i-- {
		if n := levels[i].CodeLen(); len(prefix) >= n {
			if _, ok := LevelOf(prefix[:n]); ok {
				return prefix[:n]
			}
		}
	}
	return ""
}
