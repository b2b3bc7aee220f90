package store_test

import "github.com/jiayuan/jiayuan/platform/personal"

// testKeys is the key ring of every Store in these tests: one ring, so that what one Store
// sealed another opens, as one service's stores do.
var testKeys = mustKeys()

func mustKeys() *personal.Keys {
	k, err := personal.GenerateKeys("test")
	if err != nil {
		panic(err)
	}
	return k
}
