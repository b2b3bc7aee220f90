package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/gateway"
)

// A route's body limit must name a route the way net/http does, with a method, and be positive.
func TestRouteBodyLimitsAreChecked(t *testing.T) {
	for pattern, limit := range map[string]int64{
		"/v1/demands/{demand}/photos:upload":      1 << 20, // no method
		"POST v1/demands":                         1 << 20, // not a path
		"POST /v1/demands/{demand/photos:upload":  1 << 20, // a broken wildcard
		"POST /v1/demands/{demand}/photos:upload": 0,
	} {
		_, err := gateway.New(context.Background(), gateway.Options{RouteBodyLimits: map[string]int64{pattern: limit}})
		if err == nil || !strings.Contains(err.Error(), "gateway:") {
			t.Errorf("RouteBodyLimits{%q: %d}: err = %v, want a refusal", pattern, limit, err)
		}
	}
	g, err := gateway.New(context.Background(), gateway.Options{RouteBodyLimits: map[string]int64{"POST /v1/demands/{demand}/photos:upload": 8 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	_ = g.Close()
}
