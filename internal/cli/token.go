package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
)

// devKeyFile is the dev signing key's file name inside a `jiayuan dev` data directory.
const devKeyFile = "dev-signing-key.pem"

// runToken mints a token with the dev key of a running (or once run) `jiayuan dev`. It refuses
// when a real identity provider is configured, so it can never mint credentials for a
// production deployment, and it never creates a key: a new key would sign tokens the running
// suite rejects.
func runToken(args []string, io IO) error {
	fs := newFlagSet("jiayuan token", io)
	var (
		verifier auth.VerifierConfig
		dataDir  = fs.String("data-dir", "", "the `jiayuan dev` data directory holding the dev signing key (default: the nearest .data from here upward)")
		role     = fs.String("role", "", "role: "+roleList())
		scope    = fs.String("scope", "", "comma-separated region codes the caller acts within (e.g. 450105001001)")
		subject  = fs.String("subject", "", "subject (default dev-<role>)")
		partner  = fs.String("partner", "", "for the partner role: the caller's own record, partners/… or partnerGroups/…")
		dept     = fs.String("department", "", "for the department role: the id of the caller's department in rules.yaml, e.g. power")
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
	signer, err := findDevKey(*dataDir)
	if err != nil {
		return err
	}
	sub := *subject
	if sub == "" {
		sub = "dev-" + strings.ReplaceAll(string(r), "_", "-")
	}
	pr := auth.Principal{Subject: sub, Roles: []auth.Role{r}, Scope: strings.Split(*scope, ","), Partner: *partner, Department: *dept}
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

// findDevKey loads the dev key of dataDir when it is set (flag or JIAYUAN_DATA_DIR, as for
// `jiayuan dev`); otherwise that of the nearest .data directory from the working directory
// upward, where `jiayuan dev` (run from the repository root, its default) keeps it. Missing, it
// says everywhere it looked.
func findDevKey(dataDir string) (*auth.DevSigner, error) {
	var candidates []string
	if dataDir != "" {
		candidates = []string{filepath.Join(dataDir, devKeyFile)}
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("finding the dev signing key: %w", err)
		}
		for dir := wd; ; {
			candidates = append(candidates, filepath.Join(dir, ".data", devKeyFile))
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	for _, path := range candidates {
		signer, err := auth.LoadDevKey(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return signer, nil
	}
	return nil, fmt.Errorf("no dev signing key: looked for %s; start `jiayuan dev` (it creates the key in its data directory), "+
		"or point %s at the data directory it uses", strings.Join(candidates, ", "), config.Setting("data-dir"))
}

func roleList() string {
	var names []string
	for _, r := range auth.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}
