package sqlstore

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/jiayuan/jiayuan/platform/aip"
)

// FilterField says how one filterable field becomes SQL. Values are always bound as
// parameters, never spliced into the text.
type FilterField struct {
	Ops []aip.Op
	SQL func(op aip.Op, value string, args *Args) (string, error)
}

// FilterSchema is the set of fields a List method lets callers filter on, and the columns
// behind them.
type FilterSchema map[string]FilterField

// Compile parses filter (aip.ParseFilter) and returns a SQL condition ("" for an empty filter)
// over the schema's fields, binding values into args. Every problem is an *aip.FilterError, so
// it reaches the caller as INVALID_ARGUMENT.
func (s FilterSchema) Compile(filter string, args *Args) (string, error) {
	conds, err := aip.ParseFilter(filter)
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(conds))
	for _, c := range conds {
		f, ok := s[c.Field]
		if !ok {
			return "", filterErrorf("cannot filter on %q; allowed fields: %s", c.Field, strings.Join(s.names(), ", "))
		}
		if !slices.Contains(f.Ops, c.Op) {
			return "", filterErrorf("operator %s is not allowed on %s", c.Op, c.Field)
		}
		sql, err := f.SQL(c.Op, c.Value, args)
		if err != nil {
			return "", filterErrorf("%s: %v", c.Field, err)
		}
		parts = append(parts, sql)
	}
	return strings.Join(parts, " AND "), nil
}

func filterErrorf(format string, args ...any) error {
	return &aip.FilterError{Msg: fmt.Sprintf(format, args...)}
}

func (s FilterSchema) names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// EqualField compares column with the value as given, after check (if any) accepts it.
func EqualField(column string, check func(string) error) FilterField {
	return FilterField{Ops: []aip.Op{aip.OpEq, aip.OpNe}, SQL: func(op aip.Op, v string, a *Args) (string, error) {
		if check != nil {
			if err := check(v); err != nil {
				return "", err
			}
		}
		return column + " " + string(op) + " " + a.Add(v), nil
	}}
}

// OrderedField allows every comparison on column, after check (if any) accepts the value.
func OrderedField(column string, check func(string) error) FilterField {
	f := EqualField(column, check)
	f.Ops = []aip.Op{aip.OpEq, aip.OpNe, aip.OpLt, aip.OpLe, aip.OpGt, aip.OpGe}
	return f
}

// EnumField compares an integer column holding enum numbers; the value is the enum value's
// name, with or without its prefix (ACTIVE or PARTNER_STATUS_ACTIVE), as aip.EnumNumber reads it.
func EnumField(column string, enum protoreflect.EnumDescriptor, prefix string) FilterField {
	return FilterField{Ops: []aip.Op{aip.OpEq, aip.OpNe}, SQL: func(op aip.Op, v string, a *Args) (string, error) {
		n, err := aip.EnumNumber(enum, prefix, v)
		if err != nil {
			return "", err
		}
		return column + " " + string(op) + " " + a.Add(int64(n)), nil
	}}
}

// PrefixField matches rows whose column starts with the value (a region subtree); check must
// accept the value, and the value must not contain LIKE wildcards.
func PrefixField(column string, check func(string) error) FilterField {
	return FilterField{Ops: []aip.Op{aip.OpEq}, SQL: func(_ aip.Op, v string, a *Args) (string, error) {
		if check != nil {
			if err := check(v); err != nil {
				return "", err
			}
		}
		if strings.ContainsAny(v, `%_\`) {
			return "", fmt.Errorf("value %q may not contain %%, _ or \\", v)
		}
		return column + " LIKE " + a.Add(v+"%"), nil
	}}
}
