package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

// TestServeReportingRollup runs the city rollup as Kubernetes does (`jiayuan serve
// reporting-rollup`, configured by its rollup.yaml and the environment) over two districts'
// reporting services, each run by `jiayuan serve reporting`: Jiangnan's counts a partner
// group recorded through its partner service; Qingxiu's is then stopped. The city's headline
// gives Jiangnan's figures and names Qingxiu as missing, within the rollup's deadline.
func TestServeReportingRollup(t *testing.T) {
	dir := t.TempDir()
	authEnv := devAuth(t, dir)
	token := func(role, subject, scope string) string {
		t.Helper()
		code, tok, stderr := run(t.Context(), []string{"token", "--data-dir", dir, "--role", role, "--subject", subject, "--scope", scope}, nil)
		if code != 0 {
			t.Fatalf("token: %s", stderr)
		}
		return strings.TrimSpace(tok)
	}
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	feedToken := write("reporting-peer-token", token("system", "jiayuan-reporting", "450105"))
	qxFeedToken := write("qingxiu-peer-token", token("system", "jiayuan-reporting", "450103"))
	jnRollupToken := write("rollup-450105", token("system", "jiayuan-reporting-rollup", "450105"))
	qxRollupToken := write("rollup-450103", token("system", "jiayuan-reporting-rollup", "450103"))
	qingxiuTree := write("qingxiu-regions.yaml", "code: \"450103\"\nname: 青秀区\nlevel: district\n")
	partnerAddr, jnAddr, qxAddr, rollupAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	rollupFile := write("rollup.yaml", fmt.Sprintf(`city: "450100"
name: 南宁市
deadline: 1s
districts:
  - code: "450105"
    name: 江南区
    address: %s
    token_file: %s
    plaintext: true
  - code: "450103"
    name: 青秀区
    address: %s
    token_file: %s
    plaintext: true
`, jnAddr, jnRollupToken, qxAddr, qxRollupToken))

	ctx, cancel := context.WithCancel(context.Background())
	qxCtx, stopQingxiu := context.WithCancel(ctx)
	done := make(chan string, 4)
	t.Cleanup(func() {
		cancel()
		for range 4 {
			<-done
		}
	})
	serve := func(ctx context.Context, args []string, env map[string]string) {
		code, _, stderr := run(ctx, args, env)
		if code != 0 {
			t.Errorf("%s exited %d: %s", strings.Join(args, " "), code, stderr)
		}
		done <- args[1]
	}
	nowhere := "127.0.0.1:1" // the feeds a district's reporting is not given here: retried, never fatal
	go serve(ctx, []string{"serve", "partner"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": partnerAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "partner.db"), "JIAYUAN_REGIONS": "demo",
		"JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_CONTRACT_ADDR": nowhere, "JIAYUAN_PEER_TOKEN_FILE": feedToken,
	}))
	go serve(ctx, []string{"serve", "reporting"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": jnAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "jiangnan-reporting.db"), "JIAYUAN_REGIONS": "demo",
		"JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_PARTNER_ADDR": partnerAddr, "JIAYUAN_DEMAND_ADDR": nowhere,
		"JIAYUAN_ESCALATION_ADDR": nowhere, "JIAYUAN_CONTRACT_ADDR": nowhere, "JIAYUAN_PEER_TOKEN_FILE": feedToken,
	}))
	go serve(qxCtx, []string{"serve", "reporting"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": qxAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "qingxiu-reporting.db"), "JIAYUAN_REGIONS": qingxiuTree,
		"JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_PARTNER_ADDR": nowhere, "JIAYUAN_DEMAND_ADDR": nowhere,
		"JIAYUAN_ESCALATION_ADDR": nowhere, "JIAYUAN_CONTRACT_ADDR": nowhere, "JIAYUAN_PEER_TOKEN_FILE": qxFeedToken,
	}))
	go serve(ctx, []string{"serve", "reporting-rollup"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": rollupAddr, "JIAYUAN_ROLLUP_CONFIG": rollupFile, "JIAYUAN_DRAIN_DELAY": "10ms",
	}))

	dial := func(addr, tok string) (*grpc.ClientConn, context.Context) {
		t.Helper()
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn, metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
	}
	pconn, admin := dial(partnerAddr, token("admin", "dev-admin", "450105"))
	rconn, cityOfficer := dial(rollupAddr, token("district_officer", "city-officer", "450100"))
	city := reportingv1.NewReportServiceClient(rconn)
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	period := &reportingv1.Period{StartDate: now.Format("2006") + "-01-01", EndDate: now.Format(time.DateOnly)}

	// A partner group recorded in Jiangnan, counted by Jiangnan's reporting from partner's feed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := partnerv1.NewPartnerServiceClient(pconn).CreatePartnerGroup(admin, &partnerv1.CreatePartnerGroupRequest{
			RequestId: "0190f0e8-7c3a-7b4e-9d2a-6f1c2b3a4d5e", PartnerGroup: &partnerv1.PartnerGroup{
				DisplayName: "茶艺工作室", Kind: partnerv1.GroupKind_GROUP_KIND_VOLUNTEER_TEAM, RegionCode: "450105001001", ServiceAreas: []string{"450105001001"},
				Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CULTURE_SPORTS}},
				Contact:      &partnerv1.Contact{PersonName: "覃雅琴", Phone: "13807710004"},
			}})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partner: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	byName := func(resp *reportingv1.GetCityHeadlineResponse) map[string]int64 {
		out := map[string]int64{}
		for _, d := range resp.GetDistricts() {
			out[d.GetRegionName()] = d.GetFigures().GetPartnerGroups()
		}
		return out
	}
	var resp *reportingv1.GetCityHeadlineResponse
	for {
		var err error
		resp, err = city.GetCityHeadline(cityOfficer, &reportingv1.GetCityHeadlineRequest{Period: period})
		got := byName(resp)
		if err == nil && len(resp.GetMissing()) == 0 && len(got) == 2 && got["江南区"] == 1 && got["青秀区"] == 0 && resp.GetFigures().GetPartnerGroups() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the city's headline with both districts up: %v, %v", resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Qingxiu's reporting stops: the city still gets Jiangnan's figures, and Qingxiu named.
	stopQingxiu()
	if stopped := <-done; stopped != "reporting" {
		t.Fatalf("%s stopped, want Qingxiu's reporting", stopped)
	}
	done <- "reporting" // for the cleanup's count
	began := time.Now()
	resp, err := city.GetCityHeadline(cityOfficer, &reportingv1.GetCityHeadlineRequest{Period: period})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("the rollup took %v with a district down; its deadline is 1s", took)
	}
	if m := resp.GetMissing(); len(m) != 1 || m[0].GetDistrict() != "青秀区" || m[0].GetReason() == "" {
		t.Errorf("missing %v, want 青秀区 with a reason", m)
	}
	if got := byName(resp); len(got) != 1 || got["江南区"] != 1 || resp.GetFigures().GetPartnerGroups() != 1 {
		t.Errorf("the city's figures with Qingxiu down: %v (partner groups %d)", got, resp.GetFigures().GetPartnerGroups())
	}

	// Only a caller whose scope is the city reads the city's figures; the rollup counts
	// nothing itself.
	_, districtOfficer := dial(rollupAddr, token("district_officer", "jn-officer", "450105"))
	if _, err := city.GetCityHeadline(districtOfficer, &reportingv1.GetCityHeadlineRequest{Period: period}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a district's officer at the city rollup: %v, want PERMISSION_DENIED", err)
	}
	if _, err := city.GetHeadline(cityOfficer, &reportingv1.GetHeadlineRequest{RegionCode: "450100", Period: period}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("a district's headline at the city rollup: %v, want FAILED_PRECONDITION", err)
	}
}

// TestServeReportingRollupSettings: a bad rollup.yaml or a district's missing token stops the
// start, naming the setting and the district.
func TestServeReportingRollupSettings(t *testing.T) {
	dir := t.TempDir()
	authEnv := devAuth(t, dir)
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"malformed", "city: \"4501\"\nname: 南宁市\ndistricts: []\n", []string{"JIAYUAN_ROLLUP_CONFIG (--rollup-config)", `city "4501"`, "at least one district"}},
		{"token missing", "city: \"450100\"\nname: 南宁市\ndistricts:\n  - {code: \"450105\", name: 江南区, address: \"127.0.0.1:1\", token_file: " +
			filepath.Join(dir, "nosuch") + ", plaintext: true}\n", []string{"districts[0] (450105 江南区): token_file", "no such file"}},
		{"TLS without a CA", "city: \"450100\"\nname: 南宁市\ndistricts:\n  - {code: \"450105\", name: 江南区, address: \"127.0.0.1:1\", token_file: " +
			filepath.Join(dir, "tok") + "}\n", []string{"districts[0] (450105 江南区): called over TLS", "JIAYUAN_PEER_TLS_CA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "tok"), []byte("x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(dir, tc.name+".yaml")
			if err := os.WriteFile(f, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := run(t.Context(), []string{"serve", "reporting-rollup", "--grpc-listen", "127.0.0.1:0"}, merge(authEnv, map[string]string{"JIAYUAN_ROLLUP_CONFIG": f}))
			if code == 0 {
				t.Fatal("started")
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
		})
	}
}
