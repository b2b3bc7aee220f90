package assembly_test

import (
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	regionv1 "github.com/jiayuan/jiayuan/gen/jiayuan/region/v1"
	"github.com/jiayuan/jiayuan/platform/assembly"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
)

// TestNewRefuses covers what the assembly will not build: a server without what every node
// needs, a method with two policies, or a coverage check of the caller's own.
func TestNewRefuses(t *testing.T) {
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(t.Context(), signer.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	register := func(grpc.ServiceRegistrar) {}
	for _, tc := range []struct {
		name string
		cfg  assembly.Config
		want string
	}{
		{"no verifier", assembly.Config{Name: "x", Tree: region.Demo(), Register: register}, "verifier"},
		{"no tree", assembly.Config{Name: "x", Verifier: v, Register: register}, "region tree"},
		{"a shared method claimed again", assembly.Config{Name: "x", Verifier: v, Tree: region.Demo(), Register: register,
			Policies: auth.Policies{regionv1.RegionService_GetRegion_FullMethodName: auth.Allow(auth.RoleAdmin)}}, "more than one policy"},
		{"a coverage check of its own", assembly.Config{Name: "x", Verifier: v, Tree: region.Demo(), Register: register,
			Server: server.Options{CheckMethods: func(map[string]grpc.ServiceInfo) error { return nil }}}, "CheckMethods"},
	} {
		if _, err := assembly.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	srv, err := assembly.New(assembly.Config{Name: "x", Verifier: v, Tree: region.Demo(), Register: register})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.GRPC().GetServiceInfo()["jiayuan.region.v1.RegionService"]; !ok {
		t.Error("the node does not serve RegionService")
	}
}
