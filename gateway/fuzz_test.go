package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jiayuan/jiayuan/gateway"
	"github.com/jiayuan/jiayuan/platform/limits"
)

// fuzzRoutes are routes with a request body (that the test upstream serves): a field of the
// request ("partner_group"), the whole request ("*"), and PATCHes with and without an update
// mask (the mask then comes from the body, which the handler reads twice).
var fuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, "/v1/partnerGroups"},
	{http.MethodPatch, "/v1/partnerGroups/" + groupID + "?updateMask=displayName"},
	{http.MethodPost, "/v1/partners:search"},
	{http.MethodPatch, "/v1/partnerGroups/" + groupID},
}

// FuzzErrorMapping: whatever body a client sends to a route, the gateway answers 200 or a 4xx
// (never a 5xx: a body is never the server's fault), as JSON; an error is the one error shape
// (code, status, message, details), and a 400 names the field at fault in a BadRequest.
func FuzzErrorMapping(f *testing.F) {
	u := startUpstream(f)
	// The fuzzer sends thousands of requests from one address: no limits here.
	cfg := limits.DefaultConfig()
	cfg.Disabled = true
	gw := startGateway(f, u, gateway.Options{Limits: &cfg})
	h := gw.Config.Handler
	for _, s := range []string{
		`{"displayName":"茶艺工作室","kind":"GROUP_KIND_VOLUNTEER_TEAM","regionCode":"450105"}`,
		`{"kind": "GROUP_KIND_SCHOOL", "regionCode": "450105"}`,
		`{"displayName": 7}`, `{"kind": "NOT_A_KIND"}`, `{"contact": {"phone": [1]}}`, `{"unknownField": 1}`,
		`{"displayName": "x"`, `[1,2]`, `null`, ``, "\xff\xfe", `{"displayName":"x","displayName":"y"}`,
		`{"query": "托管", "pageSize": -1}`, `{"status": "PARTNER_GROUP_STATUS_ACTIVE", "reason": "` + strings.Repeat("长", 10) + `"}`,
		`{"displayName": "\u0000"}`, `{"etag": "W/\"1\"", "displayName": "y"}`,
	} {
		for i := range fuzzRoutes {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer fuzz.token.sig")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := rec.Result()
		raw := rec.Body.Bytes()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with body %q: HTTP %d %s", rt.method, rt.path, body, resp.StatusCode, raw)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q for body %q", ct, body)
		}
		if !json.Valid(raw) || !utf8.Valid(raw) {
			t.Fatalf("response %q to body %q is not JSON", raw, body)
		}
		if resp.StatusCode == http.StatusOK {
			return
		}
		var e struct {
			Code    *int              `json:"code"`
			Status  string            `json:"status"`
			Message string            `json:"message"`
			Details []json.RawMessage `json:"details"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Code == nil || e.Status == "" || e.Message == "" || e.Details == nil {
			t.Fatalf("HTTP %d for body %q: %s is not the error shape (%v)", resp.StatusCode, body, raw, err)
		}
		if resp.StatusCode == http.StatusBadRequest {
			var fields []string
			for _, d := range e.Details {
				var br struct {
					Type            string `json:"@type"`
					FieldViolations []struct {
						Field string `json:"field"`
					} `json:"fieldViolations"`
				}
				if json.Unmarshal(d, &br) == nil && br.Type == "type.googleapis.com/google.rpc.BadRequest" {
					for _, v := range br.FieldViolations {
						fields = append(fields, v.Field)
					}
				}
			}
			if len(fields) == 0 || slicesContainsEmpty(fields) {
				t.Fatalf("400 for body %q names no field: %s", body, raw)
			}
		}
	})
}

func slicesContainsEmpty(s []string) bool {
	for _, v := range s {
		if v == "" {
			return true
		}
	}
	return false
}
