package aip

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in      string
		want    []Condition
		wantErr bool
	}{
		{in: "", want: nil},
		{in: `status = ACTIVE`, want: []Condition{{"status", OpEq, "ACTIVE"}}},
		{in: `status=ACTIVE AND region_code = "450105001"`, want: []Condition{{"status", OpEq, "ACTIVE"}, {"region_code", OpEq, "450105001"}}},
		{in: `activity_date >= "2025-01-01" AND activity_date <= "2025-12-31"`, want: []Condition{{"activity_date", OpGe, "2025-01-01"}, {"activity_date", OpLe, "2025-12-31"}}},
		{in: `display_name = "a \"quoted\" name"`, want: []Condition{{"display_name", OpEq, `a "quoted" name`}}},
		{in: `name != "x'; DROP TABLE partners; --"`, want: []Condition{{"name", OpNe, "x'; DROP TABLE partners; --"}}},
		{in: `status = ACTIVE OR status = DORMANT`, wantErr: true},
		{in: `NOT status = ACTIVE`, wantErr: true},
		{in: `(status = ACTIVE)`, wantErr: true},
		{in: `status = `, wantErr: true},
		{in: `status ACTIVE`, wantErr: true},
		{in: `status = "unterminated`, wantErr: true},
		{in: `status = ACTIVE region_code = "1"`, wantErr: true},
		{in: `"status" = ACTIVE`, wantErr: true},
		{in: `a ! b`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFilter(tt.in)
			if tt.wantErr {
				var fe *FilterError
				if !errors.As(err, &fe) {
					t.Fatalf("ParseFilter(%q) error = %v, want a FilterError", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseFilter(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}
