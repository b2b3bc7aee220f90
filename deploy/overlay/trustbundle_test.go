package overlay_test

import (
	"strings"
	"testing"
)

// TestTrustBundleRequired: a process trusting the internal CA from its own certificate's
// Secret (ca.crt, the issuer alone) instead of the trust bundle fails the check, for the
// services' client CA, their peers' CA and the gateway's upstream CA alike.
func TestTrustBundleRequired(t *testing.T) {
	for _, tc := range []struct{ file, env, want string }{
		{"components/cert-manager-tls/patches/partner.yaml", "JIAYUAN_TLS_CLIENT_CA", "Deployment jiayuan-jiangnan/partner"},
		{"components/cert-manager-tls/patches/demand.yaml", "JIAYUAN_PEER_TLS_CA", "Deployment jiayuan-jiangnan/demand"},
		{"components/cert-manager-tls-gateway/gateway.yaml", "JIAYUAN_UPSTREAM_CA", "Deployment jiayuan-city/gateway-jiangnan"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Parallel() // each case breaks its own copy
			root := copyTree(t)
			edit(t, root, tc.file, "            - name: "+tc.env+"\n              value: /etc/jiayuan/ca/ca.crt\n",
				"            - name: "+tc.env+"\n              value: /etc/jiayuan/tls/ca.crt\n")
			err := loadAll(t, root)
			if err == nil {
				t.Fatal("the broken tree passed the check")
			}
			for _, w := range []string{tc.want, "/etc/jiayuan/tls/ca.crt is not from the internal CA's trust bundle"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}
