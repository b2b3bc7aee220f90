package auth_test

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"google.golang.org/grpc"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/jiayuan/jiayuan/platform/auth"
)

// listServices lists the server's services over the reflection API.
func listServices(ctx context.Context, t *testing.T, conn *grpc.ClientConn) error {
	t.Helper()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return err
	}
	// A stream the server has already ended fails Send with io.EOF; Recv has the status.
	_ = stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	})
	resp, err := stream.Recv()
	if err != nil {
		return err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, ","), "grpc.testing.TestService") {
		t.Errorf("reflection lists %v", names)
	}
	return stream.CloseSend()
}

func TestCheckCoverage(t *testing.T) {
	info := map[string]grpc.ServiceInfo{
		"jiayuan.partner.v1.PartnerService":   {Methods: []grpc.MethodInfo{{Name: "GetPartner"}, {Name: "ListPartners"}, {Name: "CreatePartner"}}},
		"grpc.health.v1.Health":               {Methods: []grpc.MethodInfo{{Name: "Check"}, {Name: "Watch", IsServerStream: true}}},
		"grpc.reflection.v1.ServerReflection": {Methods: []grpc.MethodInfo{{Name: "ServerReflectionInfo", IsServerStream: true, IsClientStream: true}}},
		"jiayuan.demand.v1.DemandService":     {Methods: []grpc.MethodInfo{{Name: "GetPhotoContent"}, {Name: "WatchPhotos", IsServerStream: true}}},
	}
	full := auth.Policies{
		"/jiayuan.partner.v1.PartnerService/GetPartner":    auth.Allow(auth.RolePartner, auth.RoleCommunityStaff),
		"/jiayuan.partner.v1.PartnerService/ListPartners":  auth.Allow(auth.RoleCommunityStaff),
		"/jiayuan.partner.v1.PartnerService/CreatePartner": auth.Allow(auth.RoleCommunityStaff),
		// A signed link is an explicit policy of its own, accepted for a unary method.
		"/jiayuan.demand.v1.DemandService/GetPhotoContent": auth.SignedURL(),
		"/jiayuan.demand.v1.DemandService/WatchPhotos":     auth.Allow(auth.RoleCommunityStaff),
	}
	merged, err := auth.Merge(auth.Standard(), full)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		policies auth.Policies
		want     []string
	}{
		{"complete", merged, nil},
		{
			"health not public, one method missing",
			without(full, "/jiayuan.partner.v1.PartnerService/CreatePartner"),
			[]string{
				"method /grpc.health.v1.Health/Check has no access policy",
				"method /grpc.health.v1.Health/Watch has no access policy",
				"method /grpc.reflection.v1.ServerReflection/ServerReflectionInfo has no access policy",
				"method /jiayuan.partner.v1.PartnerService/CreatePartner has no access policy",
			},
		},
		{
			"public business method",
			replaced(merged, "/jiayuan.partner.v1.PartnerService/ListPartners", auth.Public()),
			[]string{"method /jiayuan.partner.v1.PartnerService/ListPartners is public, but only health checking methods may be"},
		},
		{
			// Reflection describes the whole API: never to anyone without a token.
			"public reflection",
			replaced(merged, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", auth.Public()),
			[]string{"method /grpc.reflection.v1.ServerReflection/ServerReflectionInfo is public, but only health checking methods may be"},
		},
		{
			"signed link on a streaming method",
			replaced(merged, "/jiayuan.demand.v1.DemandService/WatchPhotos", auth.SignedURL()),
			[]string{"method /jiayuan.demand.v1.DemandService/WatchPhotos takes a signed link, but is streaming: a link grants one read"},
		},
		{
			"policy with no role",
			replaced(merged, "/jiayuan.partner.v1.PartnerService/GetPartner", auth.Allow()),
			[]string{"method /jiayuan.partner.v1.PartnerService/GetPartner has a policy that allows no role"},
		},
		{
			"policy with an unknown role",
			replaced(merged, "/jiayuan.partner.v1.PartnerService/GetPartner", auth.Allow("mayor")),
			[]string{`method /jiayuan.partner.v1.PartnerService/GetPartner: policy names unknown role "mayor"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.CheckCoverage(info, tt.policies)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			want := "auth: access policies incomplete:\n" + strings.Join(tt.want, "\n")
			if err == nil || err.Error() != want {
				t.Errorf("CheckCoverage =\n%v\nwant\n%s", err, want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	a := auth.Policies{"/a.A/X": auth.Allow(auth.RoleAdmin)}
	b := auth.Policies{"/b.B/Y": auth.Allow(auth.RoleAdmin), "/a.A/X": auth.Allow(auth.RoleResident)}
	if _, err := auth.Merge(a, b); err == nil || err.Error() != "auth: methods with more than one policy: /a.A/X" {
		t.Errorf("Merge(conflict) = %v", err)
	}
	m, err := auth.Merge(a, auth.Standard())
	if err != nil {
		t.Fatal(err)
	}
	reflection := m["/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"]
	if len(m) != 6 || !m["/grpc.health.v1.Health/Check"].IsPublic() || reflection.IsPublic() ||
		!reflection.Allows(auth.Principal{Roles: []auth.Role{auth.RoleResident}}) {
		t.Errorf("Merge = %v", m)
	}
}

func TestPolicyAllows(t *testing.T) {
	staff := auth.Principal{Subject: "s", Roles: []auth.Role{auth.RoleCommunityStaff}}
	tests := []struct {
		policy auth.Policy
		want   bool
	}{
		{auth.Allow(auth.RoleCommunityStaff), true},
		{auth.Allow(auth.RoleAdmin, auth.RoleCommunityStaff), true},
		{auth.Allow(auth.RoleAdmin), false},
		{auth.Allow(), false},
		{auth.Public(), true},
		{auth.SignedURL(), true},
	}
	for _, tt := range tests {
		if got := tt.policy.Allows(staff); got != tt.want {
			t.Errorf("%+v.Allows(staff) = %v, want %v", tt.policy, got, tt.want)
		}
	}
}

func TestSignedURLPolicy(t *testing.T) {
	p := auth.SignedURL()
	if !p.IsSignedURL() || p.IsPublic() {
		t.Errorf("SignedURL(): IsSignedURL %v, IsPublic %v; want a policy of its own", p.IsSignedURL(), p.IsPublic())
	}
	if auth.Public().IsSignedURL() || auth.Allow(auth.RoleAdmin).IsSignedURL() {
		t.Error("only SignedURL() takes a signed link")
	}
}

func TestInterceptorCopiesPolicies(t *testing.T) {
	i := newIDP(t)
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Issuer: testIssuer, Audience: testAudience, PublicKeyPEM: i.publicPEM(t)},
		auth.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	p := auth.Policies{}
	interceptor := auth.UnaryServerInterceptor(v, p)
	p["/x.X/Open"] = auth.Public() // added after the interceptor was built: must not count
	_, err = interceptor(t.Context(), nil, &grpc.UnaryServerInfo{FullMethod: "/x.X/Open"}, func(context.Context, any) (any, error) {
		t.Error("handler ran")
		return nil, nil
	})
	if err == nil {
		t.Error("interceptor let a method in that had no policy when it was built")
	}
}

// without returns a copy of p lacking method.
func without(p auth.Policies, method string) auth.Policies {
	out := maps.Clone(p)
	delete(out, method)
	return out
}

// replaced returns a copy of p with method's policy replaced.
func replaced(p auth.Policies, method string, pol auth.Policy) auth.Policies {
	out := maps.Clone(p)
	out[method] = pol
	return out
}
