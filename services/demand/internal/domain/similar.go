package domain

import "unicode"

// SimilarThreshold is the least Similarity worth suggesting as "me too". Two texts about the
// same thing in other words score well above it ("楼道垃圾桶满了没人清理" and "垃圾桶满了，楼道
// 没人清理" score 80); two about different things that share one common phrase ("路灯坏了" and
// "水管坏了" score 33) stay below it.
const SimilarThreshold = 40

// Similarity is 0–100: how close two texts are, by the Dice coefficient of their character
// bigrams after dropping spaces and punctuation. Characters rather than words, because Chinese
// has no word breaks; it works on mixed text too (Latin letters are compared case-insensitively).
// Identical texts score 100; a text with nothing left to compare scores 0.
func Similarity(a, b string) int {
	ra, rb := normalize(a), normalize(b)
	if len(ra) == 0 || len(rb) == 0 {
		return 0
	}
	ga, gb := bigrams(ra), bigrams(rb)
	// Count shared bigrams as a multiset, so a repeated phrase matches only as often as the
	// other text repeats it.
	counts := make(map[[2]rune]int, len(ga))
	for _, g := range ga {
		counts[g]++
	}
	shared := 0
	for _, g := range gb {
		if counts[g] > 0 {
			counts[g]--
			shared++
		}
	}
	total := len(ga) + len(gb)
	return (200*shared + total/2) / total
}

// normalize keeps the letters and digits of s, lower-cased.
func normalize(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			out = append(out, unicode.ToLower(r))
		}
	}
	return out
}

// bigrams returns the adjacent pairs of rs; a single character stands alone, so that a one-
// character text still equals itself.
func bigrams(rs []rune) [][2]rune {
	if len(rs) == 1 {
		return [][2]rune{{rs[0], 0}}
	}
	gs := make([][2]rune, 0, len(rs)-1)
	for i := 1; i < len(rs); i++ {
		gs = append(gs, [2]rune{rs[i-1], rs[i]})
	}
	return gs
}
