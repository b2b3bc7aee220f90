package suite_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// TestDevSuiteCases walks the README's cases examples in `jiayuan dev`: 二桥西's roof leak
// opened as a case over REST (yellow, to 江南街道办事处), its board, the sub-district taking it
// on over gRPC, the replies on the resident's timeline; then measures how long a demand moved to
// IN_CASE takes to have its case (issue 13: p99 ≤ 1 s), which it logs.
func TestDevSuiteCases(t *testing.T) {
	dev := startDev(t, filepath.Join(t.TempDir(), "data"))
	r := rest{t, dev.GatewayURL}
	staff, street := dev.Tokens[auth.RoleCommunityStaff], dev.Tokens[auth.RoleStreetOfficer]

	code, body := r.call("GET", "/v1/demands?filter="+url.QueryEscape("kind = PROBLEM"), staff, "")
	if code != http.StatusOK || len(body["demands"].([]any)) != 1 {
		t.Fatalf("problems: %d %v", code, body)
	}
	leak := body["demands"].([]any)[0].(map[string]any)["name"].(string)
	code, c := r.call("POST", "/v1/cases", staff, fmt.Sprintf(`{"demand":%q}`, leak))
	if code != http.StatusOK || c["colour"] != "COLOUR_YELLOW" || c["unitDisplayName"] != "江南街道办事处" {
		t.Fatalf("open the case: %d %v", code, c)
	}
	name := c["name"].(string)
	code, board := r.call("GET", "/v1/cases:board?regionCode=450105001", street, "")
	if code != http.StatusOK || board["open"] != float64(1) {
		t.Fatalf("board: %d %v", code, board)
	}

	conn, err := grpc.NewClient(dev.ServiceAddr["escalation"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+street)
	accepted, err := escalationv1.NewCaseServiceClient(conn).AcceptCase(ctx, &escalationv1.AcceptCaseRequest{Name: name, Reply: "街道已联系物业公司，本周内上门查看屋面。"})
	if err != nil || accepted.GetCase().GetStatus() != escalationv1.CaseStatus_CASE_STATUS_ACCEPTED {
		t.Fatalf("accept: %v, %v", accepted, err)
	}
	waitFor(t, "the replies on the roof leak's timeline", func() bool {
		_, tl := r.call("GET", "/v1/"+leak+"/timelineEntries", staff, "")
		var msgs []string
		for _, e := range tl["entries"].([]any) {
			msgs = append(msgs, e.(map[string]any)["message"].(string))
		}
		return slices.Contains(msgs, "街道已联系物业公司，本周内上门查看屋面。") &&
			slices.ContainsFunc(msgs, func(m string) bool { return strings.HasPrefix(m, "您反映的问题已立案办理") })
	})

	// From IN_CASE to its case, through demand's feed.
	var took []time.Duration
	for i := range 10 {
		code, d := r.call("POST", "/v1/demands", staff, fmt.Sprintf(
			`{"kind":"DEMAND_KIND_PROBLEM","category":"CATEGORY_ENVIRONMENT","channel":"CHANNEL_WALK_IN","title":"垃圾桶满溢%d","communityCode":"450105001001"}`, i))
		if code != http.StatusOK {
			t.Fatalf("file: %d %v", code, d)
		}
		dn := d["name"].(string)
		if code, b := r.call("POST", "/v1/"+dn+":changeStatus", staff, `{"status":"DEMAND_STATUS_ACCEPTED","reply":"已受理"}`); code != http.StatusOK {
			t.Fatalf("accept: %d %v", code, b)
		}
		t0 := time.Now()
		if code, b := r.call("POST", "/v1/"+dn+":changeStatus", staff, `{"status":"DEMAND_STATUS_IN_CASE","reply":"转入三色清单"}`); code != http.StatusOK {
			t.Fatalf("to a case: %d %v", code, b)
		}
		waitFor(t, "the case of "+dn, func() bool {
			_, l := r.call("GET", "/v1/cases?filter="+url.QueryEscape(fmt.Sprintf("demand = %q", dn)), staff, "")
			cs, _ := l["cases"].([]any)
			return len(cs) == 1
		})
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	t.Logf("IN_CASE to case in jiayuan dev: median %v, max (p99 of 10) %v", took[len(took)/2], took[len(took)-1])
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
