package suite

import "runtime/debug"

// GCPercent is a node's garbage-collection target when GOGC is not set: the heap may grow to
// five times what is live before a collection, where Go's default lets it double. A node's
// live heap is tens of MiB, and its pod's GOMEMLIMIT (460MiB, below the 512Mi limit) still
// makes the collector work harder as the heap nears it. At the default its marking took a
// tenth of a match's CPU (profile of make bench); at 400 a create costs 10% less CPU
// (BenchmarkCreateDemandAudit: 660–682 → 599–600 µs per create).
const GCPercent = 400

// TuneGC sets GCPercent, unless the operator has set GOGC (lookupEnv is os.LookupEnv).
func TuneGC(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(GCPercent)
	}
}
