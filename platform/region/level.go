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

// codeLen returns the length of a code at level l: 6 digits for a district, 3 more per level below.
func (l Level) codeLen() int { return 6 + 3*l.depth() }
