package aip

import (
	"fmt"
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
