package suite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/internal/demo"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
)

// startDev runs the whole suite as `jiayuan dev` does, on ports the system picks, and returns
// it once it serves; it stops when the test ends.
func startDev(t *testing.T, dataDir string) *suite.Dev {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *suite.Dev, 1)
	done := make(chan error, 1)
	go func() {
		done <- suite.RunDev(ctx, suite.DevConfig{
			DataDir: dataDir, Host: "127.0.0.1", EphemeralPorts: true, Tree: region.Demo(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Seed: true, TokenTTL: time.Hour,
			Ready: func(d *suite.Dev) { ready <- d },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunDev: %v", err)
		}
	})
	select {
	case d := <-ready:
		return d
	case err := <-done:
		t.Fatalf("RunDev ended before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("suite not ready after 60s")
	}
	return nil
}

type rest struct {
	t    *testing.T
	base string
}

// call sends a JSON request through the gateway and decodes the JSON answer into a map.
func (r rest) call(method, path, token, body string) (int, map[string]any) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			r.t.Fatalf("%s %s: %d %q is not JSON", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

func TestDevSuiteEndToEnd(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)
	r := rest{t, dev.GatewayURL}
	staff := dev.Tokens[auth.RoleCommunityStaff]

	if code, body := r.call("GET", "/healthz", "", ""); code != http.StatusOK {
		t.Fatalf("healthz: %d %v", code, body)
	}
	if code, body := r.call("GET", "/openapi.json", "", ""); code != http.StatusOK || body["swagger"] == nil {
		t.Fatalf("openapi: %d", code)
	}

	// The README's REST example: who can run Wednesday after-school care in 二桥西社区?
	code, body := r.call("POST", "/v1/partners:search", staff,
		`{"categories":["CATEGORY_CHILDCARE"],"regionCode":"450105001001","window":{"weekday":"WEEKDAY_WEDNESDAY","startTime":"15:00","endTime":"18:00"}}`)
	if code != http.StatusOK {
		t.Fatalf("search: %d %v", code, body)
	}
	var top []string
	for _, res := range body["results"].([]any) {
		m := res.(map[string]any)
		party, _ := m["group"].(map[string]any)
		if party == nil {
			party = m["partner"].(map[string]any)
		}
		top = append(top, party["displayName"].(string))
	}
	want := []string{"二桥西社区家长志愿者队", "二桥西社区团委", "唐妈妈（家长志愿者）", "青空间社工服务站"}
	if len(top) < 4 || !equalSet(top[:4], want) {
		t.Fatalf("top of the search: %v, want %v first", top, want)
	}

	// A resident reads the same partners with contacts masked; staff see them whole.
	_, list := r.call("GET", "/v1/partnerGroups?filter=status%20%3D%20ACTIVE", dev.Tokens[auth.RoleResident], "")
	for _, g := range list["partnerGroups"].([]any) {
		if phone := g.(map[string]any)["contact"].(map[string]any)["phone"].(string); !strings.Contains(phone, "*") {
			t.Fatalf("resident sees phone %q", phone)
		}
	}

	// Bad input is a 400 naming the field; nothing is written.
	code, body = r.call("POST", "/v1/partnerGroups", staff, `{"displayName":"x","kind":"GROUP_KIND_MERCHANT","creditCode":"92450105MA0000033X","regionCode":"450105001001"}`)
	if code != http.StatusBadRequest || !strings.Contains(body["message"].(string), "credit_code") {
		t.Fatalf("bad credit code: %d %v", code, body)
	}
	code, body = r.call("POST", "/v1/partnerGroups", staff, `{"displayName":"x","kind":"GROUP_KIND_NOPE"}`)
	if code != http.StatusBadRequest || !strings.Contains(strings.ToLower(body["message"].(string)), "kind") {
		t.Fatalf("unknown enum: %d %v", code, body)
	}
	code, body = r.call("POST", "/v1/partnerGroups", staff, `{"displayName": 12`)
	if code != http.StatusBadRequest {
		t.Fatalf("malformed JSON: %d %v", code, body)
	}
	code, _ = r.call("POST", "/v1/partnerGroups", staff, `{"displayName":"`+strings.Repeat("长", 1<<20)+`"}`)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", code)
	}
	if code, _ := r.call("GET", "/v1/partnerGroups", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}

	// Create through REST, read through gRPC.
	code, body = r.call("POST", "/v1/partners?requestId=8f14e45f-ceea-467f-a5e3-8c8d8b0f0a11", staff,
		`{"displayName":"覃老师（手工）","regionCode":"450105001001","serviceAreas":["450105001001"],"capabilities":[{"category":"CATEGORY_CHILDCARE","tags":["手工"]}]}`)
	if code != http.StatusOK {
		t.Fatalf("create: %d %v", code, body)
	}
	name := body["name"].(string)
	conn, err := grpc.NewClient(dev.ServiceAddr["partner"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+staff)
	got, err := partnerv1.NewPartnerServiceClient(conn).GetPartner(ctx, &partnerv1.GetPartnerRequest{Name: name})
	if err != nil || got.GetPartner().GetStatus() != partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED {
		t.Fatalf("gRPC get: %v, %v", got, err)
	}

	checkDemand(t, r, staff)
}

// checkDemand drives the demand service through the gateway: its needs list answers, and
// matching a project reaches the partner service with demand's own (system) credentials, for
// the candidates and, through partner's event feed, their track records.
func checkDemand(t *testing.T, r rest, staff string) {
	t.Helper()
	if code, body := r.call("GET", "/v1/demands", staff, ""); code != http.StatusOK {
		t.Fatalf("list demands: %d %v", code, body)
	}
	if code, _ := r.call("GET", "/v1/demands", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("list demands without a token: %d", code)
	}
	code, project := r.call("POST", "/v1/projects", staff,
		`{"title":"周三下午托管","category":"CATEGORY_CHILDCARE","listType":"LIST_TYPE_ELDERLY_AND_CHILDREN","communityCode":"450105001001",`+
			`"schedule":[{"weekday":"WEEKDAY_WEDNESDAY","startTime":"15:00","endTime":"18:00"}]}`)
	if code != http.StatusOK {
		t.Fatalf("create project: %d %v", code, project)
	}
	name := project["name"].(string)
	if code, body := r.call("POST", "/v1/"+name+":changeStatus", staff, `{"status":"PROJECT_STATUS_APPROVED","reply":"项目已批准，正在寻找合伙人"}`); code != http.StatusOK {
		t.Fatalf("approve project: %d %v", code, body)
	}
	// The feed is followed in the background: wait until the parents' group's activity from
	// the demo seed has reached demand.
	const parents = "二桥西社区家长志愿者队"
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := r.call("POST", "/v1/"+name+":match", staff, `{}`)
		if code != http.StatusOK {
			t.Fatalf("match: %d %v", code, body)
		}
		var names []string
		activities := -1.0
		for _, c := range body["candidates"].([]any) {
			m := c.(map[string]any)
			names = append(names, m["displayName"].(string))
			if m["displayName"] == parents {
				activities, _ = m["activityCount"].(float64)
			}
		}
		if activities >= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("match candidates %v: %s has %v activities, want its seeded one", names, parents, activities)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDevSuiteKeepsDataAcrossRestarts stops the suite and starts it again on the same data
// directory: what was there is still there, and the demo data is not loaded twice.
func TestDevSuiteKeepsDataAcrossRestarts(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	count := func(dev *suite.Dev) int {
		_, body := rest{t, dev.GatewayURL}.call("GET", "/v1/partnerGroups?pageSize=1000", dev.Tokens[auth.RoleAdmin], "")
		return len(body["partnerGroups"].([]any))
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *suite.Dev, 1)
	done := make(chan error, 1)
	go func() {
		done <- suite.RunDev(ctx, suite.DevConfig{DataDir: dataDir, Host: "127.0.0.1", EphemeralPorts: true, Tree: region.Demo(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Seed: true, TokenTTL: time.Hour, Ready: func(d *suite.Dev) { ready <- d }})
	}()
	first := <-ready
	before := count(first)
	if before == 0 {
		t.Fatal("no demo data")
	}
	oldToken := first.Tokens[auth.RoleAdmin]
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	second := startDev(t, dataDir)
	if after := count(second); after != before {
		t.Fatalf("%d groups after restart, %d before", after, before)
	}
	// The dev key is kept, so tokens handed out before the restart still work.
	if code, _ := (rest{t, second.GatewayURL}).call("GET", "/v1/partnerGroups", oldToken, ""); code != http.StatusOK {
		t.Fatalf("old token after restart: %d", code)
	}
}

func equalSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

// failingActivities is the partner API with RecordActivity failing, as when `jiayuan dev` is
// stopped in the middle of seeding.
type failingActivities struct {
	partnerv1.PartnerServiceClient
}

func (failingActivities) RecordActivity(context.Context, *partnerv1.RecordActivityRequest, ...grpc.CallOption) (*partnerv1.RecordActivityResponse, error) {
	return nil, context.Canceled
}

// TestSeedResumesAfterInterruption: a seed stopped before its end completes on the next
// start, without duplicating what it had created, and a completed seed is not run again.
func TestSeedResumesAfterInterruption(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *suite.Dev, 1)
	done := make(chan error, 1)
	go func() {
		done <- suite.RunDev(ctx, suite.DevConfig{DataDir: dir, Host: "127.0.0.1", EphemeralPorts: true, Tree: region.Demo(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TokenTTL: time.Hour, Ready: func(d *suite.Dev) { ready <- d }})
	}()
	defer func() { cancel(); <-done }()
	dev := <-ready
	conn, err := grpc.NewClient(dev.ServiceAddr["partner"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := partnerv1.NewPartnerServiceClient(conn)
	actx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+dev.Tokens[auth.RoleAdmin])

	if err := demo.Seed(actx, failingActivities{client}); err == nil {
		t.Fatal("the interrupted seed reported success")
	}
	for range 2 {
		if err := demo.Seed(actx, client); err != nil {
			t.Fatalf("resumed seed: %v", err)
		}
	}
	groups, err := client.ListPartnerGroups(actx, &partnerv1.ListPartnerGroupsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, g := range groups.GetPartnerGroups() {
		if g.GetStatus() == partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE {
			active++
		}
	}
	acts, err := client.ListActivities(actx, &partnerv1.ListActivitiesRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups.GetPartnerGroups()) != 9 || active != 7 || len(acts.GetActivities()) != 7 {
		t.Fatalf("after resuming: %d groups (%d active), %d activities; want 9 (7 active), 7", len(groups.GetPartnerGroups()), active, len(acts.GetActivities()))
	}
}
