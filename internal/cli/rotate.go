package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// runRotateKeys re-seals every record's personal data under the current key of the ring, a
// batch per transaction, while the service keeps serving: a key rotation is adding a key to
// the ring as current, rolling the service out with it, then running this; after it, the old
// key can leave the ring. Interrupted, it is run again and skips what is done.
func runRotateKeys(ctx context.Context, args []string, io IO) error {
	var names []string
	for _, s := range suite.Services() {
		if s.RotateKeys != nil {
			names = append(names, s.Name)
		}
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("name the service whose keys to rotate: %s", strings.Join(names, ", "))
	}
	spec, ok := suite.Lookup(args[0])
	if !ok || spec.RotateKeys == nil {
		return fmt.Errorf("unknown service %q, or one storing no personal data: one of %s", args[0], strings.Join(names, ", "))
	}
	fs := newFlagSet("jiayuan rotate-keys "+spec.Name, io)
	s := newSettings(fs, "rotate-keys", spec.Name)
	dbURL := fs.String("db-url", "", "the service's database: postgres://… or sqlite:PATH")
	keysPath := keysFlag(fs, s)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var p config.Problems
	p.Check("db-url", config.Required(*dbURL))
	p.Check(flagKeys, config.Required(*keysPath))
	if err := p.Err(); err != nil {
		return err
	}
	keys, err := loadKeys(*keysPath)
	if err != nil {
		return err
	}
	db, err := sqlstore.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	// The columns it writes may be new: the schema first, as a start of the service would.
	if err := db.Migrate(ctx, spec.Name, spec.Migrations()); err != nil {
		return err
	}
	n, err := spec.RotateKeys(ctx, db, keys, func(sealed int, last string) {
		fmt.Fprintf(io.Err, "%s: %d re-sealed, through %s\n", spec.Name, sealed, last)
	})
	if err != nil {
		return fmt.Errorf("%s: after %d re-sealed: %w", spec.Name, n, err)
	}
	fmt.Fprintf(io.Out, "%s: %d records re-sealed under key %s\n", spec.Name, n, keys.Current())
	return nil
}
