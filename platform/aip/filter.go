package aip

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Op is a comparison operator of the filter subset.
type Op string

// The operators of the subset.
const (
	OpEq Op = "="
	OpNe Op = "!="
	OpLt Op = "<"
	OpLe Op = "<="
	OpGt Op = ">"
	OpGe Op = ">="
)

// Condition is one `field op value` comparison.
type Condition struct {
	Field string
	Op    Op
	Value string
}

// FilterError is a filter the caller must fix; its message says what is wrong.
type FilterError struct{ Msg string }

func (e *FilterError) Error() string { return e.Msg }

func filterErrorf(format string, args ...any) error {
	return &FilterError{Msg: fmt.Sprintf(format, args...)}
}

// ParseFilter parses the AIP-160 subset jiayuan supports: comparisons joined by AND, where a
// comparison is `field op value`, op is one of = != < <= > >=, and value is a "quoted string"
// (with \" and \\ escapes) or a bare word of letters, digits, '_', '-', '.' and ':'.
// OR, NOT, parentheses and functions are refused with a message saying so.
func ParseFilter(s string) ([]Condition, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	var out []Condition
	for i := 0; i < len(toks); {
		if len(out) > 0 {
			if toks[i].kind != tokAnd {
				return nil, filterErrorf("expected AND before %q (only AND is supported)", toks[i].text)
			}
			i++
		}
		if i+3 > len(toks) {
			return nil, filterErrorf("incomplete comparison at end of filter")
		}
		f, op, v := toks[i], toks[i+1], toks[i+2]
		if f.kind != tokWord || f.quoted {
			return nil, filterErrorf("expected a field name, got %q", f.text)
		}
		if op.kind != tokOp {
			return nil, filterErrorf("expected an operator after %q, got %q", f.text, op.text)
		}
		if v.kind != tokWord {
			return nil, filterErrorf("expected a value after %s %s", f.text, op.text)
		}
		out = append(out, Condition{Field: f.text, Op: Op(op.text), Value: v.text})
		i += 3
	}
	return out, nil
}

type tokKind int

const (
	tokWord tokKind = iota
	tokOp
	tokAnd
)

type token struct {
	kind   tokKind
	text   string
	quoted bool
}

func lex(s string) ([]token, error) {
	var toks []token
	r := []rune(s)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(r) && r[j] != '"'; j++ {
				if r[j] == '\\' && j+1 < len(r) {
					j++
				}
				b.WriteRune(r[j])
			}
			if j >= len(r) {
				return nil, filterErrorf("unterminated string starting at position %d", i)
			}
			toks = append(toks, token{kind: tokWord, text: b.String(), quoted: true})
			i = j + 1
		case c == '=' || c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(r) && r[i+1] == '=' {
				op += "="
			}
			if op == "!" {
				return nil, filterErrorf("unsupported operator %q", op)
			}
			toks = append(toks, token{kind: tokOp, text: op})
			i += len(op)
		case isBare(c):
			j := i
			for j < len(r) && isBare(r[j]) {
				j++
			}
			w := string(r[i:j])
			switch w {
			case "AND":
				toks = append(toks, token{kind: tokAnd, text: w})
			case "OR", "NOT":
				return nil, filterErrorf("%s is not supported; combine comparisons with AND", w)
			default:
				toks = append(toks, token{kind: tokWord, text: w})
			}
			i = j
		default:
			return nil, filterErrorf("unexpected character %q at position %d", c, i)
		}
	}
	return toks, nil
}

func isBare(c rune) bool {
	return unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '-' || c == '.' || c == ':' || c == '/'
}

// Args collects the bound parameters of a query and hands out their placeholders ($1, $2, …),
// which both PostgreSQL and SQLite accept.
type Args struct{ vals []any }

// Add binds v and returns its placeholder.
func (a *Args) Add(v any) string {
	a.vals = append(a.vals, v)
	return "$" + strconv.Itoa(len(a.vals))
}

// Values returns the bound parameters in placeholder order.
func (a *Args) Values() []any { return a.vals }

// InList binds each of vals and returns "($1, $2, …)", for a short list of fixed length; a
// list whose length varies belongs in sqlstore.AnyOf, which keeps the statement's text fixed.
func InList[T any](a *Args, vals []T) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = a.Add(v)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

// FilterField says how one filterable field becomes SQL. Values are always bound as
// parameters, never spliced into the text.
type FilterField struct {
	Ops []Op
	SQL func(op Op, value string, args *Args) (string, error)
}

// FilterSchema is the set of fields a List method lets callers filter on.
type FilterSchema map[string]FilterField

// Compile parses filter and returns a SQL condition ("" for an empty filter) over the schema's
// fields, binding values into args.
func (s FilterSchema) Compile(filter string, args *Args) (string, error) {
	conds, err := ParseFilter(filter)
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
	return FilterField{Ops: []Op{OpEq, OpNe}, SQL: func(op Op, v string, a *Args) (string, error) {
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
	f.Ops = []Op{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe}
	return f
}

// EnumField compares an integer column holding enum numbers; the value is the enum value's
// name, with or without its prefix (ACTIVE or PARTNER_STATUS_ACTIVE).
func EnumField(column string, enum protoreflect.EnumDescriptor, prefix string) FilterField {
	return FilterField{Ops: []Op{OpEq, OpNe}, SQL: func(op Op, v string, a *Args) (string, error) {
		n, err := EnumNumber(enum, prefix, v)
		if err != nil {
			return "", err
		}
		return column + " " + string(op) + " " + a.Add(int64(n)), nil
	}}
}

// EnumNumber resolves an enum value name, with or without prefix; the zero (UNSPECIFIED) value
// is not a valid filter value.
func EnumNumber(enum protoreflect.EnumDescriptor, prefix, v string) (protoreflect.EnumNumber, error) {
	name := strings.ToUpper(v)
	if !strings.HasPrefix(name, prefix) {
		name = prefix + name
	}
	ev := enum.Values().ByName(protoreflect.Name(name))
	if ev == nil || ev.Number() == 0 {
		return 0, fmt.Errorf("unknown value %q", v)
	}
	return ev.Number(), nil
}

// PrefixField matches rows whose column starts with the value (a region subtree); check must
// accept the value, and the value must not contain LIKE wildcards.
func PrefixField(column string, check func(string) error) FilterField {
	return FilterField{Ops: []Op{OpEq}, SQL: func(_ Op, v string, a *Args) (string, error) {
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
