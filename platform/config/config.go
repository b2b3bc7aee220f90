// Package config declares a binary's settings as standard library flags, each of which can also
// be set through an environment variable named after it: --db-url ⇄ JIAYUAN_DB_URL.
// Precedence is command-line flag, then environment, then the flag's default. Kubernetes sets
// the environment; people at a terminal use flags.
//
//	fs := config.NewFlagSet("jiayuan serve partner")
//	listen := fs.String("grpc-listen", "127.0.0.1:9090", "gRPC listen address")
//	if err := fs.Parse(os.Args[3:]); err != nil { … }
//
// Errors name both spellings of the setting, so whoever reads them can fix whichever they used.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Prefix starts every environment variable name.
const Prefix = "JIAYUAN"

// EnvName returns the environment variable that sets the flag: "db-url" → "JIAYUAN_DB_URL".
func EnvName(flagName string) string {
	return Prefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Setting names a setting by both its spellings, "JIAYUAN_DB_URL (--db-url)", for error messages.
func Setting(flagName string) string {
	return fmt.Sprintf("%s (--%s)", EnvName(flagName), flagName)
}

// Source says where a flag's value came from.
type Source int

// The sources, from weakest to strongest.
const (
	FromDefault Source = iota
	FromEnv
	FromFlag
)

func (s Source) String() string {
	switch s {
	case FromEnv:
		return "environment"
	case FromFlag:
		return "command line"
	}
	return "default"
}

// FlagSet is a flag.FlagSet whose flags can also be set from the environment. Declare flags with
// the embedded FlagSet's methods (String, Int, Duration, Func, Var, …), then call Parse.
// It always continues on error: Parse returns errors rather than exiting.
type FlagSet struct {
	*flag.FlagSet
	lookupEnv func(string) (string, bool)
	output    io.Writer
	sources   map[string]Source
}

// Option configures a FlagSet.
type Option func(*FlagSet)

// WithLookupEnv replaces os.LookupEnv, so tests need not touch the process environment.
func WithLookupEnv(lookup func(string) (string, bool)) Option {
	return func(f *FlagSet) { f.lookupEnv = lookup }
}

// WithOutput sets where the usage message for -h/--help goes (default os.Stderr).
func WithOutput(w io.Writer) Option {
	return func(f *FlagSet) { f.output = w }
}

// NewFlagSet returns an empty FlagSet named name (shown in the usage message).
func NewFlagSet(name string, opts ...Option) *FlagSet {
	f := &FlagSet{
		FlagSet:   flag.NewFlagSet(name, flag.ContinueOnError),
		lookupEnv: os.LookupEnv,
		output:    os.Stderr,
		sources:   make(map[string]Source),
	}
	for _, o := range opts {
		o(f)
	}
	// The flag package would print its own message and usage on every error; Parse reports
	// errors itself and prints usage only when asked for it.
	f.FlagSet.SetOutput(io.Discard)
	f.FlagSet.Usage = func() {}
	return f
}

// Parse parses the command line, then sets every flag not given there from its environment
// variable if that is set and not empty (an empty variable counts as unset, so a templated but
// blank value in a manifest does not wipe out a default). For -h or --help it prints the usage
// and returns flag.ErrHelp.
func (f *FlagSet) Parse(args []string) error {
	if err := f.checkNames(); err != nil {
		return err
	}
	if err := f.parseArgs(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.PrintUsage(f.output)
		}
		return err
	}
	given := make(map[string]bool)
	f.Visit(func(fl *flag.Flag) {
		given[fl.Name] = true
		f.sources[fl.Name] = FromFlag
	})
	var errs []error
	f.VisitAll(func(fl *flag.Flag) {
		if given[fl.Name] {
			return
		}
		env := EnvName(fl.Name)
		v, ok := f.lookupEnv(env)
		if !ok || v == "" {
			return
		}
		if err := f.Set(fl.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid value %q: %w", Setting(fl.Name), v, err))
			return
		}
		f.sources[fl.Name] = FromEnv
	})
	return errors.Join(errs...)
}

// parseArgs runs the flag package's parser with each flag's value wrapped, so that a value the
// flag rejects can be reported by name along with its environment variable.
func (f *FlagSet) parseArgs(args []string) error {
	var failed *setFailure
	originals := make(map[string]flag.Value)
	f.VisitAll(func(fl *flag.Flag) {
		originals[fl.Name] = fl.Value
		r := &recorder{Value: fl.Value, name: fl.Name, failed: &failed}
		if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			fl.Value = boolRecorder{r}
		} else {
			fl.Value = r
		}
	})
	defer f.VisitAll(func(fl *flag.Flag) { fl.Value = originals[fl.Name] })

	err := f.FlagSet.Parse(args)
	if err != nil && failed != nil {
		return fmt.Errorf("--%s (%s): invalid value %q: %w", failed.name, EnvName(failed.name), failed.value, failed.err)
	}
	return err
}

type setFailure struct {
	name, value string
	err         error
}

type recorder struct {
	flag.Value
	name   string
	failed **setFailure
}

func (r *recorder) Set(s string) error {
	if err := r.Value.Set(s); err != nil {
		*r.failed = &setFailure{name: r.name, value: s, err: err}
		return err
	}
	return nil
}

type boolRecorder struct{ *recorder }

func (boolRecorder) IsBoolFlag() bool { return true }

// checkNames rejects flag names that would not map one-to-one onto environment variable names.
func (f *FlagSet) checkNames() error {
	var errs []error
	f.VisitAll(func(fl *flag.Flag) {
		if !validName(fl.Name) {
			errs = append(errs, fmt.Errorf("flag --%s: name must be lower-case letters, digits and dashes, starting with a letter", fl.Name))
		}
	})
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return !strings.HasSuffix(s, "-")
}

// Source reports where the named flag's value came from after Parse.
func (f *FlagSet) Source(flagName string) Source { return f.sources[flagName] }

// PrintUsage writes the usage message: every flag with its environment variable, type, help
// text and default.
func (f *FlagSet) PrintUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage of %s:\n", f.Name())
	f.VisitAll(func(fl *flag.Flag) {
		var b strings.Builder
		fmt.Fprintf(&b, "  --%s", fl.Name)
		typ, usage := flag.UnquoteUsage(fl)
		if typ != "" {
			b.WriteString(" " + typ)
		}
		fmt.Fprintf(&b, "  (env %s)\n    \t", EnvName(fl.Name))
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" && fl.DefValue != "0s" && fl.DefValue != "[]" {
			if isString(fl.Value) {
				fmt.Fprintf(&b, " (default %q)", fl.DefValue)
			} else {
				fmt.Fprintf(&b, " (default %s)", fl.DefValue)
			}
		}
		fmt.Fprintln(w, b.String())
	})
}

func isString(v flag.Value) bool {
	g, ok := v.(flag.Getter)
	if !ok {
		return false
	}
	_, ok = g.Get().(string)
	return ok
}
