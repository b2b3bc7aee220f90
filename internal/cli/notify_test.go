package cli_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/webhook"
)

// TestServeEscalationTellsUnits: `serve escalation`, configured as the Deployment configures it
// (JIAYUAN_NOTIFY_* from the ConfigMap and the mounted Secret), sends the message to the unit a
// case is given to to the district's messaging gateway — here an https gateway with a
// certificate of the district's own CA (JIAYUAN_NOTIFY_WEBHOOK_CA) — signed with the shared
// secret. The case opens as in service: a resident's problem moved to IN_CASE on `serve demand`,
// followed by escalation through demand's feed.
func TestServeEscalationTellsUnits(t *testing.T) {
	dir := t.TempDir()
	secret := "a-secret-shared-with-the-gateway-32b"
	type call struct {
		agent, key, kind, unit, caseName string
		sigErr                           error
	}
	var mu sync.Mutex
	var calls []call
	gw := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct {
			Case      string `json:"case"`
			Kind      string `json:"kind"`
			Recipient struct {
				Unit string `json:"unit"`
			} `json:"recipient"`
		}
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		calls = append(calls, call{agent: r.Header.Get("User-Agent"), key: r.Header.Get(webhook.IdempotencyHeader), kind: p.Kind, unit: p.Recipient.Unit,
			caseName: p.Case, sigErr: webhook.Verify([]byte(secret), r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute)})
		mu.Unlock()
	}))
	defer gw.Close()
	caFile := filepath.Join(dir, "gateway-ca.pem")
	secretFile := filepath.Join(dir, "notify-webhook-secret")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gw.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	authEnv := devAuth(t, dir)
	token := func(args ...string) string {
		t.Helper()
		code, tok, stderr := run(t.Context(), append([]string{"token", "--data-dir", dir}, args...), nil)
		if code != 0 {
			t.Fatalf("token: %s", stderr)
		}
		return strings.TrimSpace(tok)
	}
	peerToken := filepath.Join(dir, "peer-token")
	if err := os.WriteFile(peerToken, []byte(token("--role", "system", "--subject", "jiayuan-escalation", "--scope", "450105")), 0o600); err != nil {
		t.Fatal(err)
	}
	const community = "450105001001"
	resident := token("--role", "resident", "--subject", "res-1", "--scope", community)
	staff := token("--role", "community_staff", "--scope", community)

	demandAddr, escalationAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 2)
	t.Cleanup(func() {
		cancel()
		for range 2 {
			<-done
		}
	})
	serve := func(args []string, env map[string]string) {
		code, _, stderr := run(ctx, args, env)
		if code != 0 {
			t.Errorf("%s exited %d: %s", strings.Join(args, " "), code, stderr)
		}
		done <- code
	}
	// Demand's other peers are never reached in this test: their followers retry quietly.
	go serve([]string{"serve", "demand"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": demandAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "demand.db"), "JIAYUAN_REGIONS": "demo",
		"JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_PARTNER_ADDR": "127.0.0.1:1", "JIAYUAN_ESCALATION_ADDR": escalationAddr,
		"JIAYUAN_CONTRACT_ADDR": "127.0.0.1:1", "JIAYUAN_PEER_TOKEN_FILE": peerToken,
	}))
	go serve([]string{"serve", "escalation"}, merge(authEnv, map[string]string{
		"JIAYUAN_GRPC_LISTEN": escalationAddr, "JIAYUAN_DB_URL": "sqlite:" + filepath.Join(dir, "escalation.db"), "JIAYUAN_REGIONS": "demo",
		"JIAYUAN_RULES": "demo", "JIAYUAN_DRAIN_DELAY": "10ms", "JIAYUAN_DEMAND_ADDR": demandAddr, "JIAYUAN_PEER_TOKEN_FILE": peerToken,
		"JIAYUAN_SWEEP_INTERVAL": "1s",
		// As the base's ConfigMap escalation and Secret escalation-notify-webhook give them; no
		// quiet hours, so that the message goes whatever the hour the test runs at.
		"JIAYUAN_NOTIFY_WEBHOOK_URL": gw.URL + "/hooks/jiayuan", "JIAYUAN_NOTIFY_WEBHOOK_SECRET_FILE": secretFile,
		"JIAYUAN_NOTIFY_WEBHOOK_CA": caFile, "JIAYUAN_NOTIFY_QUIET_HOURS": "off",
	}))

	conn, err := grpc.NewClient(demandAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	demands := demandv1.NewDemandServiceClient(conn)
	as := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
	}
	var d *demandv1.Demand
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := demands.CreateDemand(as(resident), &demandv1.CreateDemandRequest{Demand: &demandv1.Demand{
			Kind: demandv1.DemandKind_DEMAND_KIND_PROBLEM, Category: typev1.Category_CATEGORY_ENVIRONMENT, Channel: demandv1.Channel_CHANNEL_ONLINE,
			Title: "垃圾桶满溢", Description: "小区垃圾桶每天满溢", CommunityCode: community, HouseholdsAffected: 30,
		}})
		if err == nil {
			d = resp.GetDemand()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CreateDemand: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // the server is still starting
	}
	for _, st := range []demandv1.DemandStatus{demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, demandv1.DemandStatus_DEMAND_STATUS_IN_CASE} {
		if _, err := demands.ChangeDemandStatus(as(staff), &demandv1.ChangeDemandStatusRequest{Name: d.GetName(), Status: st, Reply: "已受理"}); err != nil {
			t.Fatalf("%v: %v", st, err)
		}
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) == 0 {
		t.Fatal("no message reached the gateway in 30s")
	}
	c := calls[0]
	if c.sigErr != nil || c.key == "" || c.agent != "jiayuan-escalation" || c.kind != "OPENED" || c.unit != "regions/"+community || !strings.HasPrefix(c.caseName, "cases/") {
		t.Errorf("the gateway got %+v; want a signed OPENED message from jiayuan-escalation to regions/%s about a case", c, community)
	}
}
