package sqlstore_test

import (
	"errors"
	"regexp"
	"testing"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// compiledSQL is the only shape of SQL a filter may become: the schema's columns compared with
// placeholders, joined by AND. A caller's text never reaches the statement.
var compiledSQL = regexp.MustCompile(`^((status|activity_date|display_name) (=|!=|<|<=|>|>=) \$\d+|region_code LIKE \$\d+)( AND ((status|activity_date|display_name) (=|!=|<|<=|>|>=) \$\d+|region_code LIKE \$\d+))*$`)

// FuzzFilterCompile: a caller's filter, parsed by aip.ParseFilter, becomes SQL of the fixed
// shape above with every value bound as a parameter, or an aip.FilterError.
func FuzzFilterCompile(f *testing.F) {
	schema := sqlstore.FilterSchema{
		"status":       sqlstore.EnumField("status", partnerv1.PartnerStatus(0).Descriptor(), "PARTNER_STATUS_"),
		"region_code":  sqlstore.PrefixField("region_code", nil),
		"date":         sqlstore.OrderedField("activity_date", nil),
		"display_name": sqlstore.EqualField("display_name", nil),
	}
	for _, s := range []string{
		``, `status = ACTIVE`, `status != ACTIVE AND region_code = "450105001"`, `date >= "2025-01-01"`,
		`region_code = "45%"`, `region_code = "1'; DROP TABLE x; --"`, `display_name = "x' OR '1'='1"`,
		`display_name = "$1"`, `password = "x"`, `status > ACTIVE`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		var args sqlstore.Args
		sql, err := schema.Compile(filter, &args)
		if err != nil {
			var fe *aip.FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("Compile(%q) error %v (%T), want a FilterError", filter, err, err)
			}
			return
		}
		if sql == "" {
			if len(args.Values()) != 0 {
				t.Fatalf("Compile(%q): no SQL but args %v", filter, args.Values())
			}
			return
		}
		if !compiledSQL.MatchString(sql) {
			t.Fatalf("Compile(%q) = %q: not columns compared with placeholders", filter, sql)
		}
		conds, _ := aip.ParseFilter(filter)
		if len(args.Values()) != len(conds) {
			t.Fatalf("Compile(%q) bound %d values for %d conditions", filter, len(args.Values()), len(conds))
		}
	})
}
