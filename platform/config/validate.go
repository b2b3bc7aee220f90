package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// SettingError is a setting with an invalid value. Its message names the setting both ways:
//
//	JIAYUAN_GRPC_LISTEN (--grpc-listen): "abc" is not host:port
type SettingError struct {
	Flag string // the flag name, without dashes
	Err  error
}

func (e *SettingError) Error() string { return Setting(e.Flag) + ": " + e.Err.Error() }

func (e *SettingError) Unwrap() error { return e.Err }

// Problems collects invalid settings for a config struct's Validate method:
//
//	func (c Config) Validate() error {
//		var p config.Problems
//		p.Check("grpc-listen", config.HostPort(c.GRPCListen))
//		p.Check("db-url", config.URL(c.DBURL, "postgres", "postgresql"))
//		return p.Err()
//	}
//
// The zero value is ready to use.
type Problems struct {
	errs []error
}

// Check records err, if not nil, as a problem with the named flag's setting.
func (p *Problems) Check(flagName string, err error) {
	if err != nil {
		p.errs = append(p.errs, &SettingError{Flag: flagName, Err: err})
	}
}

// Addf records a problem with the named flag's setting.
func (p *Problems) Addf(flagName, format string, args ...any) {
	p.Check(flagName, fmt.Errorf(format, args...))
}

// Err returns every recorded problem, one per line, or nil if there were none.
func (p *Problems) Err() error { return errors.Join(p.errs...) }

// Required fails if s is empty.
func Required(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must be set")
	}
	return nil
}

// HostPort fails unless s is a listen or dial address such as "127.0.0.1:9090", ":9090" or
// "[::1]:9090", with a numeric port.
func HostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		return fmt.Errorf("%q is not host:port: the port must be a number from 0 to 65535", s)
	}
	return nil
}

// URL fails unless s is an absolute URL with a host and one of the given schemes (any scheme
// if none are given). Messages never repeat a password that s may hold.
func URL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's error quotes the whole input, password included.
		return errors.New("is not a valid URL")
	}
	if u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL with a host", u.Redacted())
	}
	if len(schemes) > 0 && !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("%q: the scheme must be %s", u.Redacted(), strings.Join(schemes, " or "))
	}
	return nil
}

// OneOf fails unless s is one of allowed.
func OneOf(s string, allowed ...string) error {
	if !slices.Contains(allowed, s) {
		return fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", "))
	}
	return nil
}
