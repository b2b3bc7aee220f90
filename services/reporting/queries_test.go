package reporting_test

import (
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// TestQueries runs the scripted history once per back end and then reads it every way: by
// level of the caller, broken down, as series, ranked, exported, rolled up; and refuses bad
// input naming the field.
func TestQueries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		m := history(t, e)
		e.waitFigures(district, m.of(district))
		e.waitFigures(peihong, m.of(peihong))
		t.Run("authorization by level", func(t *testing.T) { testAccess(t, e) })
		t.Run("bad input", func(t *testing.T) { testBadInput(t, e) })
		t.Run("breakdown", func(t *testing.T) {
			resp, err := e.reports.GetBreakdown(e.districtOfficer(), &reportingv1.GetBreakdownRequest{RegionCode: district, Period: thisYear()})
			if err != nil {
				t.Fatal(err)
			}
			var sum int64
			for _, c := range resp.GetChildren() {
				sum += c.GetFigures().GetDemands()
				if c.GetRegionCode() == jiangnan && c.GetFigures().GetDemands() != m.of(jiangnan).GetDemands() {
					t.Errorf("江南街道 demands %d, want %d", c.GetFigures().GetDemands(), m.of(jiangnan).GetDemands())
				}
			}
			if len(resp.GetChildren()) != len(region.Demo().Children(district)) || sum != resp.GetTotal().GetFigures().GetDemands() {
				t.Errorf("children %d, sum %d, total %v", len(resp.GetChildren()), sum, resp.GetTotal().GetFigures().GetDemands())
			}
		})
		t.Run("series", func(t *testing.T) {
			for _, iv := range []reportingv1.Interval{reportingv1.Interval_INTERVAL_DAY, reportingv1.Interval_INTERVAL_WEEK, reportingv1.Interval_INTERVAL_MONTH} {
				resp, err := e.reports.GetSeries(e.districtOfficer(), &reportingv1.GetSeriesRequest{
					RegionCode: district, Period: thisYear(), Measure: reportingv1.Measure_MEASURE_MATTERS_SOLVED, Interval: iv,
				})
				if err != nil {
					t.Fatal(err)
				}
				if resp.GetTotal() != m.of(district).GetMattersSolved() {
					t.Errorf("%v: total %d", iv, resp.GetTotal())
				}
				last := resp.GetPoints()[len(resp.GetPoints())-1]
				if last.GetEndDate() != today() || last.GetValue() != resp.GetTotal() {
					t.Errorf("%v: last point %v", iv, last)
				}
			}
		})
		t.Run("ranking", func(t *testing.T) {
			resp, err := e.reports.GetRanking(e.districtOfficer(), &reportingv1.GetRankingRequest{
				RegionCode: district, Period: thisYear(), Measure: reportingv1.RankingMeasure_RANKING_MEASURE_RESOLUTION_RATE, MinCases: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			// 二桥西: 3 solved of 3; 富景: 0 of 1 (left out, one case); the others none.
			if len(resp.GetUnits()) != 1 || resp.GetUnits()[0].GetUnit() != erqiao || resp.GetUnits()[0].GetValue() != 1 {
				t.Fatalf("ranked %v", resp.GetUnits())
			}
			found := false
			for _, x := range resp.GetExcluded() {
				if x.GetUnit() == fujing {
					found = x.GetCases() == 1 && strings.Contains(x.GetReason(), "fewer than the minimum of 2")
				}
			}
			if !found {
				t.Errorf("富景 not named as left out: %v", resp.GetExcluded())
			}
			resp, err = e.reports.GetRanking(e.districtOfficer(), &reportingv1.GetRankingRequest{
				RegionCode: district, Period: thisYear(), Measure: reportingv1.RankingMeasure_RANKING_MEASURE_PEOPLE_SERVED, MinCases: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetUnits()) != 1 || resp.GetUnits()[0].GetValue() != 50 || len(resp.GetExcluded()) != 1 {
				t.Errorf("partners ranked %v, left out %v", resp.GetUnits(), resp.GetExcluded())
			}
		})
		t.Run("export", func(t *testing.T) { testExport(t, e, m) })
		t.Run("city rollup with a district down", func(t *testing.T) { testRollup(t, e, m) })
		t.Run("status", func(t *testing.T) {
			resp, err := e.reports.GetReportStatus(e.admin(), &reportingv1.GetReportStatusRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetSources()) < 3 {
				t.Errorf("sources %v", resp.GetSources())
			}
		})
	})
}

func testAccess(t *testing.T, e *env) {
	cases := []struct {
		name   string
		ctx    context.Context
		region string
		code   codes.Code
	}{
		{"community secretary, own community", e.staff(erqiao), erqiao, codes.OK},
		{"community secretary, own grid", e.staff(erqiao), erqiao + "001", codes.OK},
		{"community secretary, its sub-district", e.staff(erqiao), jiangnan, codes.InvalidArgument},
		{"community secretary, another community", e.staff(erqiao), fujing, codes.InvalidArgument},
		{"community secretary, the district", e.staff(erqiao), district, codes.InvalidArgument},
		{"sub-district officer, own", e.as(auth.RoleStreetOfficer, jiangnan), jiangnan, codes.OK},
		{"sub-district officer, its community", e.as(auth.RoleStreetOfficer, jiangnan), fujing, codes.OK},
		{"sub-district officer, another's community", e.as(auth.RoleStreetOfficer, jiangnan), peihong, codes.InvalidArgument},
		{"sub-district officer, the district", e.as(auth.RoleStreetOfficer, jiangnan), district, codes.InvalidArgument},
		{"district officer, the district", e.districtOfficer(), district, codes.OK},
		{"district officer, a community", e.districtOfficer(), peihong, codes.OK},
		{"system, the district", e.as(auth.RoleSystem, district), district, codes.OK},
		{"resident", e.resident(erqiao), erqiao, codes.PermissionDenied},
		{"partner role", e.asPrincipal(auth.Principal{Subject: "p", Roles: []auth.Role{auth.RolePartner}, Scope: []string{district}, Partner: "partners/01J0000000000000000000000A"}), district, codes.PermissionDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.reports.GetHeadline(c.ctx, &reportingv1.GetHeadlineRequest{RegionCode: c.region, Period: thisYear()})
			if c.code == codes.OK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			st := apierrtest.WantCode(t, err, c.code)
			if c.code == codes.InvalidArgument {
				apierrtest.WantField(t, err, "region_code")
				// Out of scope reads exactly like a region that does not exist.
				_, unknown := e.reports.GetHeadline(c.ctx, &reportingv1.GetHeadlineRequest{RegionCode: "450105999", Period: thisYear()})
				if want := strings.ReplaceAll(st.Message(), c.region, "450105999"); apierrtest.WantCode(t, unknown, codes.InvalidArgument).Message() != want {
					t.Errorf("unknown region reads %q, out of scope %q", unknown, st.Message())
				}
			}
		})
	}
}

func testBadInput(t *testing.T, e *env) {
	ctx := e.districtOfficer()
	per := func(a, b string) *reportingv1.Period { return &reportingv1.Period{StartDate: a, EndDate: b} }
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"reversed period", func() error {
			_, err := e.reports.GetHeadline(ctx, &reportingv1.GetHeadlineRequest{RegionCode: district, Period: per("2026-03-01", "2026-02-01")})
			return err
		}, "period.end_date"},
		{"period too long", func() error {
			_, err := e.reports.GetHeadline(ctx, &reportingv1.GetHeadlineRequest{RegionCode: district, Period: per("2024-01-01", "2025-06-30")})
			return err
		}, "period.end_date"},
		{"not a date", func() error {
			_, err := e.reports.GetHeadline(ctx, &reportingv1.GetHeadlineRequest{RegionCode: district, Period: per("2026-02-30", "2026-03-01")})
			return err
		}, "period.start_date"},
		{"no period", func() error {
			_, err := e.reports.GetHeadline(ctx, &reportingv1.GetHeadlineRequest{RegionCode: district})
			return err
		}, "period"},
		{"malformed region", func() error {
			_, err := e.reports.GetHeadline(ctx, &reportingv1.GetHeadlineRequest{RegionCode: "45x", Period: thisYear()})
			return err
		}, "region_code"},
		{"unknown region", func() error {
			_, err := e.reports.GetBreakdown(ctx, &reportingv1.GetBreakdownRequest{RegionCode: "450199", Period: thisYear()})
			return err
		}, "region_code"},
		{"unknown export format", func() error {
			_, err := e.reports.ExportReport(ctx, &reportingv1.ExportReportRequest{RegionCode: district, Period: thisYear(), Format: 9})
			return err
		}, "format"},
		{"unknown ranking measure", func() error {
			_, err := e.reports.GetRanking(ctx, &reportingv1.GetRankingRequest{RegionCode: district, Period: thisYear(), Measure: 42})
			return err
		}, "measure"},
		{"no series interval", func() error {
			_, err := e.reports.GetSeries(ctx, &reportingv1.GetSeriesRequest{RegionCode: district, Period: thisYear(), Measure: reportingv1.Measure_MEASURE_DEMANDS})
			return err
		}, "interval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { apierrtest.WantField(t, c.call(), c.field) })
	}
}

func testExport(t *testing.T, e *env, m model) {
	var header metadata.MD
	csvBody, err := e.reports.ExportReport(e.staff(erqiao), &reportingv1.ExportReportRequest{RegionCode: erqiao, Period: thisYear(), Format: reportingv1.ExportFormat_EXPORT_FORMAT_CSV}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	text := string(csvBody.GetData())
	if csvBody.GetContentType() != "text/csv; charset=utf-8" || !strings.HasPrefix(text, "\ufeff二桥西社区") || !strings.Contains(text, "解决民生实事（件）,3") {
		t.Errorf("csv %s:\n%s", csvBody.GetContentType(), text)
	}
	if d := header.Get("content-disposition"); len(d) != 1 || !strings.Contains(d[0], `filename="report-`+erqiao+`-`) {
		t.Errorf("content-disposition %v", d)
	}
	// No personal data: the reporters' names and phones never reach reporting.
	for _, pii := range []string{"覃秀兰", "13907710021", "唐丽", "13807710012"} {
		if strings.Contains(text, pii) {
			t.Errorf("the export carries %q", pii)
		}
	}
	xlsx, err := e.reports.ExportReport(e.districtOfficer(), &reportingv1.ExportReportRequest{RegionCode: district, Period: thisYear(), Format: reportingv1.ExportFormat_EXPORT_FORMAT_XLSX})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zip.NewReader(bytes.NewReader(xlsx.GetData()), int64(len(xlsx.GetData()))); err != nil {
		t.Fatalf("not a workbook: %v", err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(xlsx.GetData()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) < 3 || sheets[0] != "汇总" || sheets[1] != "下级区域" {
		t.Errorf("sheets %v", sheets)
	}
	v, err := f.GetCellValue("汇总", "B6")
	if err != nil || v != "3" {
		t.Errorf("汇总!B6 (matters solved) = %q, %v; want 3", v, err)
	}
	rows, err := f.GetRows("下级区域")
	if err != nil || len(rows) != len(region.Demo().Children(district))+2 {
		t.Errorf("下级区域 has %d rows, %v", len(rows), err)
	}
	_ = m
}

func testRollup(t *testing.T, e *env, m model) {
	// A city instance with two districts: this test's district, and one that does not answer.
	cityCreds := grpc.WithPerRPCCredentials(auth.NewBearerCredentials(e.signer.TokenSource(
		auth.Principal{Subject: "svc-city", Roles: []auth.Role{auth.RoleSystem}, Scope: []string{district}}, time.Hour), true))
	city, err := reporting.OpenRollup(reporting.RollupConfig{
		CityCode: "450100", Deadline: 500 * time.Millisecond,
		Districts: []reporting.RollupDistrictConn{
			{Name: "江南区", RegionCode: district, Conn: assemblytest.Dial(t, e.addr, cityCreds)},
			{Name: "青秀区", RegionCode: "450103", Conn: assemblytest.Dial(t, "127.0.0.1:1", cityCreds)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := startCity(t, e, city)
	client := reportingv1.NewReportServiceClient(assemblytest.Dial(t, srv))
	cityOfficer := e.asPrincipal(auth.Principal{Subject: "city", Roles: []auth.Role{auth.RoleDistrictOfficer}, Scope: []string{"450100"}})
	began := time.Now()
	resp, err := client.GetCityHeadline(cityOfficer, &reportingv1.GetCityHeadlineRequest{Period: thisYear()})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the rollup took %v", took)
	}
	if len(resp.GetMissing()) != 1 || resp.GetMissing()[0].GetDistrict() != "青秀区" {
		t.Errorf("missing %v", resp.GetMissing())
	}
	if len(resp.GetDistricts()) != 1 || resp.GetFigures().GetMattersSolved() != m.of(district).GetMattersSolved() ||
		resp.GetFigures().GetPartners() != m.of(district).GetPartners() {
		t.Errorf("city figures %v", resp.GetFigures())
	}
	// A district's officer is not the city.
	_, err = client.GetCityHeadline(e.districtOfficer(), &reportingv1.GetCityHeadlineRequest{Period: thisYear()})
	apierrtest.WantCode(t, err, codes.PermissionDenied)
	// A district's instance is no rollup, and the rollup counts nothing itself.
	_, err = e.reports.GetCityHeadline(e.districtOfficer(), &reportingv1.GetCityHeadlineRequest{Period: thisYear()})
	apierrtest.WantCode(t, err, codes.FailedPrecondition)
	_, err = client.GetHeadline(cityOfficer, &reportingv1.GetHeadlineRequest{RegionCode: district, Period: thisYear()})
	apierrtest.WantCode(t, err, codes.FailedPrecondition)
}
