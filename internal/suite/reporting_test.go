package suite_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/auth"
)

// TestDevDemoHeadline is the golden test of `jiayuan dev`'s demo data as the reporting service
// counts it. The numbers are counted by hand from internal/demo:
//   - partner groups: parents, league, youthspace, tea, womensfed, lawfirm, canteen (ACTIVE),
//     hospital (VERIFIED), telecom (APPLIED) = 9, none withdrawn;
//   - partners: calligraphy, taichi, parent-tang (ACTIVE), plumber (APPLIED) = 4;
//   - projects: the Wednesday care project = 1 (CONTRACT_PENDING), its 3 parents' needs matched;
//   - demands: the 3 parents' needs + handrails, chess, bins, cables, transformer, roof, meals,
//     legal = 11; none resolved yet: 0 matters solved, no case opened;
//   - activities (dated 2025-11-20…27): 7 sessions; people served 18+18+26+20+45+60+80 = 267;
//     minutes 720+360+450+120+240+300+600 = 2790, 46 whole hours;
//   - meetings: 二桥西's 逢四说事 on MeetingDate (2025-12-04), one meeting of kind
//     MEETING_KIND_FOURTH_DAY in December 2025; no case, so no case meeting or mediation.
//
// The demo records are created when the suite starts (today), the activities carry their own
// dates: the first figures are read over the year up to today, the activities over November
// 2025. Both are read through the gateway's REST mapping, as a front end does.
func TestDevDemoHeadline(t *testing.T) {
	dev := startDev(t, filepath.Join(t.TempDir(), "data"))
	r := rest{t, dev.GatewayURL}
	officer := dev.Tokens[auth.RoleDistrictOfficer]
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	year := "period.startDate=" + now.AddDate(0, 0, -365).Format(time.DateOnly) + "&period.endDate=" + now.Format(time.DateOnly)

	want := map[string]float64{
		"partnerGroups": 9, "partners": 4, "projects": 1, "mattersSolved": 0, "demands": 11, "needsMatched": 3, "casesOpened": 0,
	}
	var got map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := r.call("GET", "/v1/reports/headline?regionCode=450105&"+year, officer, "")
		if code != http.StatusOK {
			t.Fatalf("headline: %d %v", code, body)
		}
		got, _ = body["figures"].(map[string]any)
		if figuresMatch(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo headline %v, want %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}

	november := "period.startDate=2025-11-01&period.endDate=2025-11-30"
	wantNov := map[string]float64{"serviceSessions": 7, "peopleServed": 267, "volunteerHours": 46}
	for {
		code, body := r.call("GET", "/v1/reports/headline?regionCode=450105&"+november, officer, "")
		if code != http.StatusOK {
			t.Fatalf("headline of November 2025: %d %v", code, body)
		}
		got, _ = body["figures"].(map[string]any)
		if figuresMatch(got, wantNov) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo activities %v, want %v", got, wantNov)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The meetings held, counted on the meeting's own date (demand's MeetingRecorded).
	december := "period.startDate=2025-12-01&period.endDate=2025-12-31"
	for {
		code, body := r.call("GET", "/v1/reports/headline?regionCode=450105&"+december, officer, "")
		if code != http.StatusOK {
			t.Fatalf("headline of December 2025: %d %v", code, body)
		}
		got, _ = body["figures"].(map[string]any)
		kinds, _ := got["meetingsByKind"].([]any)
		if figuresMatch(got, map[string]float64{"meetingsHeld": 1}) && len(kinds) == 1 {
			tally, _ := kinds[0].(map[string]any)
			if n, _ := numberOf(tally["value"]); tally["key"] != "MEETING_KIND_FOURTH_DAY" || n != 1 {
				t.Fatalf("meetings by kind %v, want MEETING_KIND_FOURTH_DAY: 1", kinds)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo meetings %v, want 1 逢四说事 in December 2025", got)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The XLSX download: its type and its file name.
	req, err := http.NewRequest("GET", dev.GatewayURL+"/v1/reports/export?regionCode=450105&format=EXPORT_FORMAT_XLSX&"+november, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+officer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="report-450105-2025-11-01-2025-11-30.xlsx"; filename*=UTF-8''`+
			`%E5%8D%97%E5%AE%81%E5%B8%82%E6%B1%9F%E5%8D%97%E5%8C%BA%E6%8A%A5%E8%A1%A8-2025-11-01-2025-11-30.xlsx` ||
		!strings.HasPrefix(string(data), "PK") {
		t.Fatalf("download: %d %q %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), len(data))
	}
	// Bad input through REST: a 400 naming the field.
	code, body := r.call("GET", "/v1/reports/headline?regionCode=450105&period.startDate=2025-12-01&period.endDate=2025-11-01", officer, "")
	if code != http.StatusBadRequest || !strings.Contains(body["message"].(string), "period.end_date") {
		t.Fatalf("reversed period: %d %v", code, body)
	}
}

func figuresMatch(got map[string]any, want map[string]float64) bool {
	for k, v := range want {
		n, _ := numberOf(got[k])
		if n != v {
			return false
		}
	}
	return true
}

// numberOf reads a JSON number; int64 fields arrive as strings (proto3 JSON).
func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		var f float64
		for _, c := range x {
			if c < '0' || c > '9' {
				return 0, false
			}
			f = f*10 + float64(c-'0')
		}
		return f, true
	}
	return 0, false
}
