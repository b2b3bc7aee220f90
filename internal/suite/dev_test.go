package suite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	regionv1 "github.com/jiayuan/jiayuan/gen/jiayuan/region/v1"
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

	// The README's partial response: only the named fields of each partner, with its name.
	code, body = r.call("POST", "/v1/partners:search", staff,
		`{"categories":["CATEGORY_CHILDCARE"],"regionCode":"450105001001","readMask":"displayName,availability"}`)
	if code != http.StatusOK {
		t.Fatalf("search with a read mask: %d %v", code, body)
	}
	for _, res := range body["results"].([]any) {
		m := res.(map[string]any)
		party, _ := m["group"].(map[string]any)
		if party == nil {
			party = m["partner"].(map[string]any)
		}
		for k := range party {
			if k != "name" && k != "displayName" && k != "availability" {
				t.Fatalf("read mask displayName,availability returned %q: %v", k, party)
			}
		}
		if party["displayName"] == nil || m["score"] == nil {
			t.Fatalf("read mask result %v", m)
		}
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

	checkReflection(t, conn, staff)
	checkRegions(t, dev, r)
	checkDemandSeed(t, dev)
	checkDemandReadme(t, dev, r)
	checkDemand(t, r, staff)
	checkAudit(t, dev, r)
}

// checkReflection: `jiayuan dev` serves reflection (for grpcurl), to callers with a token only.
func checkReflection(t *testing.T, conn *grpc.ClientConn, token string) {
	t.Helper()
	list := func(ctx context.Context) ([]string, error) {
		stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			return nil, err
		}
		// A stream the server has already ended fails Send with io.EOF; Recv has the status.
		_ = stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}})
		resp, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		return names, stream.CloseSend()
	}
	if _, err := list(t.Context()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("reflection without a token: %v, want UNAUTHENTICATED", err)
	}
	names, err := list(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token))
	if err != nil || !slices.Contains(names, "jiayuan.partner.v1.PartnerService") {
		t.Errorf("reflection with a token: %v, %v", names, err)
	}
}

// checkAudit reads each service's own audit trail over REST as the district's auditor: the
// gateway sends services/{name} to that service.
func checkAudit(t *testing.T, dev *suite.Dev, r rest) {
	t.Helper()
	auditor := dev.Tokens[auth.RoleAuditor]
	for _, svc := range []string{"partner", "demand"} {
		code, body := r.call("GET", "/v1/services/"+svc+"/auditRecords?pageSize=5&outcome=OK", auditor, "")
		if code != http.StatusOK {
			t.Fatalf("%s audit records: %d %v", svc, code, body)
		}
		recs, _ := body["auditRecords"].([]any)
		if len(recs) != 5 || body["nextPageToken"] == "" {
			t.Fatalf("%s audit records: %d on the first page, want 5 and a next page: %v", svc, len(recs), body)
		}
		for _, rec := range recs {
			m := rec.(map[string]any)
			if !strings.HasPrefix(m["name"].(string), "services/"+svc+"/auditRecords/") || m["outcome"] != "OK" {
				t.Fatalf("%s audit record %v", svc, m)
			}
		}
	}
	if code, body := r.call("GET", "/v1/services/demand/auditRecords", dev.Tokens[auth.RoleAdmin], ""); code != http.StatusForbidden {
		t.Fatalf("an admin read the audit trail: %d %v", code, body)
	}
	if code, body := r.call("GET", "/v1/services/demand/auditRecords?pageToken=nonsense", auditor, ""); code != http.StatusBadRequest {
		t.Fatalf("bad page token: %d %v", code, body)
	}
}

// checkRegions reads the region tree over REST, as the README shows, within the caller's
// scope; and every service node serves it over gRPC.
func checkRegions(t *testing.T, dev *suite.Dev, r rest) {
	t.Helper()
	staff := dev.Tokens[auth.RoleCommunityStaff]
	code, body := r.call("GET", "/v1/regions?parent=regions/450105001001", staff, "")
	if code != http.StatusOK {
		t.Fatalf("list regions: %d %v", code, body)
	}
	var grids []string
	for _, g := range body["regions"].([]any) {
		m := g.(map[string]any)
		if m["level"] != "LEVEL_GRID" || m["parent"] != "regions/450105001001" {
			t.Fatalf("a child of 二桥西社区: %v", m)
		}
		grids = append(grids, m["displayName"].(string))
	}
	if want := []string{"二桥西社区第一网格", "二桥西社区第二网格", "二桥西社区第三网格"}; !slices.Equal(grids, want) {
		t.Fatalf("二桥西社区's grids: %v, want %v", grids, want)
	}
	// The bare region, its ancestors for the breadcrumb, and nothing of the next community.
	code, body = r.call("GET", "/v1/regions/450105001", staff, "")
	if code != http.StatusOK || body["displayName"] != "江南街道" || body["level"] != "LEVEL_SUBDISTRICT" || body["parent"] != "regions/450105" {
		t.Fatalf("get the sub-district: %d %v", code, body)
	}
	if code, body := r.call("GET", "/v1/regions/450105001002", staff, ""); code != http.StatusNotFound {
		t.Fatalf("the next community: %d %v, want 404", code, body)
	}
	if code, _ := r.call("GET", "/v1/regions", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("regions without a token: %d", code)
	}
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+staff)
	for _, name := range suite.Names() {
		conn, err := grpc.NewClient(dev.ServiceAddr[name], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := regionv1.NewRegionServiceClient(conn).ListRegions(ctx, &regionv1.ListRegionsRequest{})
		conn.Close()
		if err != nil || len(resp.GetRegions()) != 1 || resp.GetRegions()[0].GetCode() != "450105" {
			t.Fatalf("%s node: ListRegions = %v, %v; want the district", name, resp, err)
		}
	}
}

// checkDemandReadme makes the README's demand examples on the freshly seeded suite.
func checkDemandReadme(t *testing.T, dev *suite.Dev, r rest) {
	t.Helper()
	// REST: what 二桥西's secretary reviews at the weekly meeting.
	code, body := r.call("GET", "/v1/demands:count?regionCode=450105001001", dev.Tokens[auth.RoleCommunityStaff], "")
	if code != http.StatusOK || body["total"] != float64(6) {
		t.Fatalf("README count: %d %v", code, body)
	}
	var inProject float64
	for _, c := range body["byStatus"].([]any) {
		if m := c.(map[string]any); m["value"] == "DEMAND_STATUS_IN_PROJECT" {
			inProject = m["count"].(float64)
		}
	}
	if inProject != 3 {
		t.Fatalf("README count: %v in projects, want 3 (%v)", inProject, body)
	}
	// gRPC: the street officer's projects waiting for their contract.
	resp, err := dialDemand(t, dev).ListProjects(as(t, dev, auth.RoleStreetOfficer), &demandv1.ListProjectsRequest{Filter: "status = CONTRACT_PENDING"})
	if err != nil || len(resp.GetProjects()) != 1 || len(resp.GetProjects()[0].GetMatchedPartners()) != 3 {
		t.Fatalf("README ListProjects: %v, %v", resp, err)
	}
}

// dialDemand connects to the suite's demand service; the connection closes when the test ends.
func dialDemand(t *testing.T, dev *suite.Dev, opts ...grpc.DialOption) demandv1.DemandServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(dev.ServiceAddr["demand"], append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return demandv1.NewDemandServiceClient(conn)
}

func as(t *testing.T, dev *suite.Dev, role auth.Role) context.Context {
	return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+dev.Tokens[role])
}

// checkDemandSeed checks the demo's demand side as a newcomer finds it with the banner's
// tokens: the parents' needs from the 逢四说事 meeting gathered into the Wednesday project,
// which has its three partners, and each parent's timeline telling the story.
func checkDemandSeed(t *testing.T, dev *suite.Dev) {
	t.Helper()
	c := dialDemand(t, dev)
	staff := as(t, dev, auth.RoleCommunityStaff)

	meetings, err := c.ListMeetings(staff, &demandv1.ListMeetingsRequest{Filter: `region_code = "` + demo.Erqiaoxi + `"`})
	if err != nil {
		t.Fatal(err)
	}
	var meeting *demandv1.Meeting
	for _, m := range meetings.GetMeetings() {
		if m.GetMeetingDate() == demo.MeetingDate {
			meeting = m
		}
	}
	if meeting == nil || meeting.GetKind() != demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY || meeting.GetDemandCount() != 3 {
		t.Fatalf("the 逢四说事 meeting of %s: %v", demo.MeetingDate, meeting)
	}
	needs, err := c.ListDemands(staff, &demandv1.ListDemandsRequest{Filter: `meeting = "` + meeting.GetName() + `"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(needs.GetDemands()) != 3 {
		t.Fatalf("%d demands raised at the meeting, want 3", len(needs.GetDemands()))
	}
	project := needs.GetDemands()[0].GetProject()
	for _, d := range needs.GetDemands() {
		if d.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_IN_PROJECT || d.GetProject() != project ||
			d.GetKind() != demandv1.DemandKind_DEMAND_KIND_NEED || d.GetChannel() != demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING {
			t.Fatalf("parent's need %q: %v in %q, want IN_PROJECT in %q", d.GetTitle(), d.GetStatus(), d.GetProject(), project)
		}
		// Staff of the community call the parents back: they see the phone whole.
		if strings.Contains(d.GetReporter().GetPhone(), "*") {
			t.Fatalf("staff see the reporter's phone masked: %q", d.GetReporter().GetPhone())
		}
	}

	got, err := c.GetProject(staff, &demandv1.GetProjectRequest{Name: project})
	if err != nil {
		t.Fatal(err)
	}
	pr := got.GetProject()
	if pr.GetTitle() != demo.ProjectTitle || pr.GetStatus() != demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING {
		t.Fatalf("project %q is %v, want %q CONTRACT_PENDING", pr.GetTitle(), pr.GetStatus(), demo.ProjectTitle)
	}
	pconn, err := grpc.NewClient(dev.ServiceAddr["partner"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer pconn.Close()
	names, err := demo.PartnerNames(as(t, dev, auth.RoleAdmin), partnerv1.NewPartnerServiceClient(pconn))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{names["parents"], names["league"], names["youthspace"]}; !equalSet(pr.GetMatchedPartners(), want) {
		t.Fatalf("matched partners %v, want %v", pr.GetMatchedPartners(), want)
	}

	timeline, err := c.ListTimelineEntries(staff, &demandv1.ListTimelineEntriesRequest{Parent: needs.GetDemands()[0].GetName()})
	if err != nil {
		t.Fatal(err)
	}
	entries := timeline.GetEntries()
	if len(entries) < 4 {
		t.Fatalf("a parent's timeline has %d entries, want the whole story (at least 4)", len(entries))
	}
	for _, e := range entries {
		if strings.TrimSpace(e.GetMessage()) == "" {
			t.Fatalf("timeline entry %v has no message for the parent", e)
		}
	}
	if last := entries[len(entries)-1].GetMessage(); !strings.Contains(last, "共建契约") {
		t.Fatalf("the parent's latest news is %q, want the partners taken on", last)
	}

	// The grid worker's token finds what that grid worker recorded on the round, accepted.
	visits, err := c.ListDemands(as(t, dev, auth.RoleGridWorker), &demandv1.ListDemandsRequest{Filter: "channel = GRID_WORKER_VISIT"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(visits.GetDemands()); n != 2 {
		t.Fatalf("%d grid-visit demands, want 2", n)
	}
	for _, d := range visits.GetDemands() {
		if d.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED || d.GetGridCode() != demo.ErqiaoxiGrid1 {
			t.Fatalf("grid-visit demand %q: %v in grid %s", d.GetTitle(), d.GetStatus(), d.GetGridCode())
		}
	}
	// The resident's token finds the roof leak that resident filed online, and nothing else.
	own, err := c.ListDemands(as(t, dev, auth.RoleResident), &demandv1.ListDemandsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(own.GetDemands()) != 1 || own.GetDemands()[0].GetChannel() != demandv1.Channel_CHANNEL_ONLINE ||
		own.GetDemands()[0].GetKind() != demandv1.DemandKind_DEMAND_KIND_PROBLEM {
		t.Fatalf("the resident's own demands: %v", own.GetDemands())
	}
	// The problems wait for the three-colour list across the district.
	problems, err := c.CountDemands(as(t, dev, auth.RoleDistrictOfficer), &demandv1.CountDemandsRequest{Filter: "kind = PROBLEM"})
	if err != nil {
		t.Fatal(err)
	}
	if problems.GetTotal() != 4 {
		t.Fatalf("%d problems in the district, want 4", problems.GetTotal())
	}
}

// checkDemand drives the demand service through the gateway: its needs list answers, and
// matching a project reaches the partner service with demand's own (system) credentials, for
// the candidates and, through partner's event feed, their track records.
func checkDemand(t *testing.T, r rest, staff string) {
	t.Helper()
	code, list := r.call("GET", "/v1/demands", staff, "")
	if code != http.StatusOK {
		t.Fatalf("list demands: %d %v", code, list)
	}
	// A demand's timeline is the collection timelineEntries (AIP-122 plural), over REST too.
	demands, _ := list["demands"].([]any)
	if len(demands) == 0 {
		t.Fatalf("list demands: no demands in %v", list)
	}
	demand, _ := demands[0].(map[string]any)["name"].(string)
	code, timeline := r.call("GET", "/v1/"+demand+"/timelineEntries", staff, "")
	entries, _ := timeline["entries"].([]any)
	if code != http.StatusOK || len(entries) == 0 {
		t.Fatalf("GET /v1/%s/timelineEntries: %d %v", demand, code, timeline)
	}
	for _, e := range entries {
		if en, _ := e.(map[string]any)["name"].(string); !strings.HasPrefix(en, demand+"/timelineEntries/") {
			t.Fatalf("timeline entry %q is not in %s/timelineEntries", en, demand)
		}
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
	// count is how many partner groups, demands, projects and meetings the district holds.
	count := func(dev *suite.Dev) [4]int {
		var n [4]int
		for i, path := range []string{"/v1/partnerGroups", "/v1/demands", "/v1/projects", "/v1/meetings"} {
			code, body := rest{t, dev.GatewayURL}.call("GET", path+"?pageSize=1000", dev.Tokens[auth.RoleAdmin], "")
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d %v", path, code, body)
			}
			for _, v := range body {
				if list, ok := v.([]any); ok {
					n[i] = len(list)
				}
			}
		}
		return n
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
	if before[0] == 0 || before[1] == 0 || before[2] == 0 || before[3] == 0 {
		t.Fatalf("no demo data: %v groups, demands, projects, meetings", before)
	}
	oldToken := first.Tokens[auth.RoleAdmin]
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	second := startDev(t, dataDir)
	if after := count(second); after != before {
		t.Fatalf("%v groups, demands, projects and meetings after restart, %v before", after, before)
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

// TestDemandSeedResumesAfterInterruption stops the demand seed at each of its kinds of step in
// turn, as a Ctrl-C during `jiayuan dev` would: every next run resumes without duplicating
// what was recorded, the last completes the story, and a completed seed writes nothing more.
func TestDemandSeedResumesAfterInterruption(t *testing.T) {
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

	admin := as(t, dev, auth.RoleAdmin)
	pconn, err := grpc.NewClient(dev.ServiceAddr["partner"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer pconn.Close()
	partners := partnerv1.NewPartnerServiceClient(pconn)
	if err := demo.Seed(admin, partners); err != nil {
		t.Fatal(err)
	}
	names, err := demo.PartnerNames(admin, partners)
	if err != nil {
		t.Fatal(err)
	}
	cast, err := demo.CastOf(suite.DevPrincipals(""))
	if err != nil {
		t.Fatal(err)
	}

	// The interceptor fails the first call of method failOn, and records the methods called.
	var (
		mu     sync.Mutex
		failOn string
		called []string
	)
	intercept := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		mu.Lock()
		called = append(called, method)
		fail := method == failOn
		if fail {
			failOn = ""
		}
		mu.Unlock()
		if fail {
			return context.Canceled
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	client := dialDemand(t, dev, grpc.WithUnaryInterceptor(intercept))

	type counts struct{ demands, projects, meetings int }
	count := func() counts {
		t.Helper()
		d, err := client.ListDemands(admin, &demandv1.ListDemandsRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		p, err := client.ListProjects(admin, &demandv1.ListProjectsRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		m, err := client.ListMeetings(admin, &demandv1.ListMeetingsRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return counts{len(d.GetDemands()), len(p.GetProjects()), len(m.GetMeetings())}
	}

	steps := []struct {
		interrupt string
		want      counts
	}{
		{demandv1.DemandService_CreateDemand_FullMethodName, counts{0, 0, 1}},
		{demandv1.DemandService_ChangeDemandStatus_FullMethodName, counts{1, 0, 1}},
		{demandv1.DemandService_CreateProject_FullMethodName, counts{11, 0, 1}},
		{demandv1.DemandService_ChangeProjectStatus_FullMethodName, counts{11, 1, 1}},
		{demandv1.DemandService_AcceptMatch_FullMethodName, counts{11, 1, 1}},
	}
	for _, step := range steps {
		mu.Lock()
		failOn = step.interrupt
		mu.Unlock()
		if err := demo.SeedDemand(t.Context(), client, dev.Signer, cast, names); err == nil {
			t.Fatalf("the seed interrupted at %s reported success", step.interrupt)
		}
		if got := count(); got != step.want {
			t.Fatalf("after an interruption at %s: %+v, want %+v", step.interrupt, got, step.want)
		}
	}
	if err := demo.SeedDemand(t.Context(), client, dev.Signer, cast, names); err != nil {
		t.Fatalf("resumed seed: %v", err)
	}
	want := counts{11, 1, 1}
	if got := count(); got != want {
		t.Fatalf("after the resumed seed: %+v, want %+v", got, want)
	}
	p, err := client.ListProjects(admin, &demandv1.ListProjectsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if pr := p.GetProjects()[0]; pr.GetStatus() != demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING || len(pr.GetMatchedPartners()) != 3 {
		t.Fatalf("project after the resumed seed: %v with %v", pr.GetStatus(), pr.GetMatchedPartners())
	}
	needs, err := client.ListDemands(admin, &demandv1.ListDemandsRequest{Filter: `project = "` + p.GetProjects()[0].GetName() + `"`})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range needs.GetDemands() {
		tl, err := client.ListTimelineEntries(admin, &demandv1.ListTimelineEntriesRequest{Parent: d.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		// Submitted, accepted, gathered, approved, partners taken on: each step once.
		if n := len(tl.GetEntries()); n != 5 {
			t.Fatalf("%q has %d timeline entries after the interruptions, want 5", d.GetTitle(), n)
		}
	}

	mu.Lock()
	called = nil
	mu.Unlock()
	if err := demo.SeedDemand(t.Context(), client, dev.Signer, cast, names); err != nil {
		t.Fatalf("seed after completion: %v", err)
	}
	mu.Lock()
	calls := slices.Clone(called)
	mu.Unlock()
	if only := []string{demandv1.DemandService_ListProjects_FullMethodName}; !slices.Equal(calls, only) {
		t.Fatalf("a completed seed called %v, want only %v", calls, only)
	}
	if got := count(); got != want {
		t.Fatalf("after a second seed: %+v, want %+v", got, want)
	}
}
