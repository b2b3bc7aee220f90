//go:build race

package assembly_test

// The race detector multiplies memory (shadow memory for every byte), so RSS is reported, not
// held to the 150 MB bound, under -race.
const (
	raceEnabled = true
	raceNote    = " (under -race, which multiplies memory: not held to 150 MB)"
)
