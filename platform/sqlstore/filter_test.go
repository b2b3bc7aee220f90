package sqlstore_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

func TestCompileFilter(t *testing.T) {
	digits := func(v string) error {
		for _, c := range v {
			if c < '0' || c > '9' {
				return fmt.Errorf("%q is not a region code", v)
			}
		}
		return nil
	}
	schema := sqlstore.FilterSchema{
		"status":      sqlstore.EnumField("status", partnerv1.PartnerStatus(0).Descriptor(), "PARTNER_STATUS_"),
		"region_code": sqlstore.PrefixField("region_code", digits),
		"date":        sqlstore.OrderedField("activity_date", nil),
	}
	tests := []struct {
		in       string
		wantSQL  string
		wantArgs []any
		wantErr  bool
	}{
		{in: "", wantSQL: ""},
		{in: "status = ACTIVE", wantSQL: "status = $1", wantArgs: []any{int64(3)}},
		{in: "status = partner_status_dormant", wantSQL: "status = $1", wantArgs: []any{int64(4)}},
		{in: `status != ACTIVE AND region_code = "450105001"`, wantSQL: "status != $1 AND region_code LIKE $2", wantArgs: []any{int64(3), "450105001%"}},
		{in: `date >= "2025-01-01"`, wantSQL: "activity_date >= $1", wantArgs: []any{"2025-01-01"}},
		{in: "status = UNSPECIFIED", wantErr: true},
		{in: "status = BOGUS", wantErr: true},
		{in: "status > ACTIVE", wantErr: true},
		{in: `region_code = "45%"`, wantErr: true},
		{in: `region_code = "1'; DROP TABLE x; --"`, wantErr: true},
		{in: `password = "x"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var args sqlstore.Args
			sql, err := schema.Compile(tt.in, &args)
			if tt.wantErr {
				var fe *aip.FilterError
				if !errors.As(err, &fe) {
					t.Fatalf("Compile(%q) error = %v, want a FilterError", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.in, err)
			}
			if sql != tt.wantSQL || !reflect.DeepEqual(args.Values(), tt.wantArgs) {
				t.Fatalf("Compile(%q) = %q %v, want %q %v", tt.in, sql, args.Values(), tt.wantSQL, tt.wantArgs)
			}
		})
	}
}
