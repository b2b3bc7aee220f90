package blob

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Credential variables: in a credentials file (KEY=VALUE lines, as a Kubernetes Secret's env
// file), or else in the process environment under the S3 tools' usual names.
const (
	credAccessKeyID     = "ACCESS_KEY_ID"
	credSecretAccessKey = "SECRET_ACCESS_KEY"
	envAccessKeyID      = "AWS_ACCESS_KEY_ID"
	envSecretAccessKey  = "AWS_SECRET_ACCESS_KEY"
)

// OpenOptions are what Open reads besides the setting.
type OpenOptions struct {
	// CredentialsFile holds the S3 credentials as lines ACCESS_KEY_ID=… and
	// SECRET_ACCESS_KEY=…; when empty they come from Getenv (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY). Never a flag's value: a command line is visible to every user of
	// the machine.
	CredentialsFile string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Open builds the store a setting names:
//
//	s3://BUCKET?endpoint=HOST[:PORT]&region=REGION[&prefix=P][&ca_file=PEM]
//	                       an S3-compatible store, over TLS (ca_file: a CA for its certificate)
//	file:DIR or DIR        a local directory
func Open(ctx context.Context, setting string, opts OpenOptions) (Store, error) {
	if setting == "" {
		return nil, errors.New("blob: no store named")
	}
	if !strings.HasPrefix(setting, "s3:") {
		return NewDir(strings.TrimPrefix(setting, "file:"))
	}
	cfg, err := ParseS3(setting)
	if err != nil {
		return nil, err
	}
	if cfg.AccessKeyID, cfg.SecretAccessKey, err = loadCredentials(opts); err != nil {
		return nil, err
	}
	return NewS3(ctx, cfg)
}

// ParseS3 reads an s3:// setting (see Open) into a config without credentials, reading the
// CA file it names.
func ParseS3(setting string) (S3Config, error) {
	u, err := url.Parse(setting)
	if err != nil {
		return S3Config{}, fmt.Errorf("blob: %w", err)
	}
	if u.Scheme != "s3" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.Fragment != "" {
		return S3Config{}, fmt.Errorf("blob: %q: want s3://BUCKET?endpoint=HOST[:PORT]&region=REGION", setting)
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "prefix", "ca_file":
		default:
			return S3Config{}, fmt.Errorf("blob: %q: unknown parameter %q (endpoint, region, prefix, ca_file)", setting, k)
		}
	}
	cfg := S3Config{Bucket: u.Host, Endpoint: q.Get("endpoint"), Region: q.Get("region"), Prefix: q.Get("prefix")}
	if cfg.Endpoint == "" {
		return S3Config{}, fmt.Errorf("blob: %q: the endpoint parameter is required", setting)
	}
	if ca := q.Get("ca_file"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return S3Config{}, fmt.Errorf("blob: ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return S3Config{}, fmt.Errorf("blob: ca_file %s: no PEM certificate", ca)
		}
	}
	return cfg, nil
}

func loadCredentials(opts OpenOptions) (id, secret string, err error) {
	if opts.CredentialsFile == "" {
		getenv := opts.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		id, secret = getenv(envAccessKeyID), getenv(envSecretAccessKey)
		if id == "" || secret == "" {
			return "", "", fmt.Errorf("blob: s3: no credentials: name a credentials file, or set %s and %s", envAccessKeyID, envSecretAccessKey)
		}
		return id, secret, nil
	}
	raw, err := os.ReadFile(opts.CredentialsFile)
	if err != nil {
		return "", "", fmt.Errorf("blob: s3 credentials: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			// The line may be a secret: do not repeat it.
			return "", "", fmt.Errorf("blob: s3 credentials %s: a line is not KEY=VALUE", opts.CredentialsFile)
		}
		switch strings.TrimSpace(k) {
		case credAccessKeyID:
			id = strings.TrimSpace(v)
		case credSecretAccessKey:
			secret = strings.TrimSpace(v)
		}
	}
	if id == "" || secret == "" {
		return "", "", fmt.Errorf("blob: s3 credentials %s: want %s and %s", opts.CredentialsFile, credAccessKeyID, credSecretAccessKey)
	}
	return id, secret, nil
}
