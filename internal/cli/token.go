package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
)

// runToken mints a token with the dev key of a data directory. It refuses when a real identity
// provider is configured, so it can never mint credentials for a production deployment.
func runToken(args []string, io IO) error {
	fs := newFlagSet("jiayuan token", io)
	var (
		verifier auth.VerifierConfig
		dataDir  = fs.String("data-dir", ".data", "the `jiayuan dev` data directory holding the dev signing key")
		role     = fs.String("role", "", "role: "+roleList())
		scope    = fs.String("scope", "", "comma-separated region codes the caller acts within (e.g. 450105001001)")
		subject  = fs.String("subject", "", "subject (default dev-<role>)")
		partner  = fs.String("partner", "", "for the partner role: the caller's own record, partners/… or partnerGroups/…")
		ttl      = fs.Duration("ttl", 24*time.Hour, "validity")
	)
	verifier.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if verifier.Issuer != "" || verifier.JWKSURL != "" || len(verifier.PublicKeyPEM) > 0 {
		return fmt.Errorf("a real identity provider is configured (%s, %s or %s): get tokens from it, not from jiayuan token",
			config.Setting(auth.FlagIssuer), config.Setting(auth.FlagJWKSURL), config.Setting(auth.FlagPublicKeyFile))
	}
	var p config.Problems
	r, err := auth.ParseRole(*role)
	p.Check("role", err)
	if *scope == "" {
		p.Addf("scope", "name at least one region code")
	}
	if *ttl <= 0 {
		p.Addf("ttl", "must be positive")
	}
	if err := p.Err(); err != nil {
		return err
	}
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(*dataDir, "dev-signing-key.pem"))
	if err != nil {
		return err
	}
	sub := *subject
	if sub == "" {
		sub = "dev-" + strings.ReplaceAll(string(r), "_", "-")
	}
	pr := auth.Principal{Subject: sub, Roles: []auth.Role{r}, Scope: strings.Split(*scope, ","), Partner: *partner}
	if err := pr.Validate(); err != nil {
		return err
	}
	tok, err := signer.Token(pr, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(io.Out, tok)
	return nil
}

func roleList() string {
	var names []string
	for _, r := range auth.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}
