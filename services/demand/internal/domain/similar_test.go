package domain

import "testing"

func TestSimilarity(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"identical", "楼道垃圾桶满了", "楼道垃圾桶满了", 100},
		{"identical one character", "水", "水", 100},
		{"both empty", "", "", 0},
		{"one empty", "垃圾桶满了", "", 0},
		{"punctuation only", "，。！", "，。！", 0},
		{"punctuation and spaces ignored", "垃圾桶 满了！", "垃圾桶满了", 100},
		{"latin case ignored", "WiFi信号差", "wifi 信号差", 100},
		{"reordered", "楼道垃圾桶满了没人清理", "垃圾桶满了，楼道没人清理", 80},
		{"unrelated", "老人需要扶手", "垃圾桶满了", 0},
		{"shared phrase only", "路灯坏了", "水管坏了", 33},
		// 2×2 shared bigrams (垃圾, 圾桶) over 4+4.
		{"same subject, other state", "垃圾桶满了", "垃圾桶坏了", 50},
		// A repeated bigram matches only as often as the other text has it: 哈哈 ×3 vs ×1.
		{"multiset", "哈哈哈哈", "哈哈", 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Similarity(tt.a, tt.b); got != tt.want {
				t.Fatalf("Similarity(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := Similarity(tt.b, tt.a); got != tt.want {
				t.Fatalf("Similarity(%q, %q) = %d, want %d (not symmetric)", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestSimilarThreshold(t *testing.T) {
	tests := []struct {
		a, b  string
		match bool
	}{
		{"楼道垃圾桶满了没人清理", "垃圾桶满了，楼道没人清理", true},
		{"周三下午孩子没人看管", "周三下午孩子放学后没人看管", true},
		{"老人需要扶手", "垃圾桶满了", false},
		{"路灯坏了", "水管坏了", false},
	}
	for _, tt := range tests {
		if got := Similarity(tt.a, tt.b) >= SimilarThreshold; got != tt.match {
			t.Errorf("Similarity(%q, %q) = %d; matches at threshold %d = %v, want %v",
				tt.a, tt.b, Similarity(tt.a, tt.b), SimilarThreshold, got, tt.match)
		}
	}
}
