package sqlstore

import (
	"strconv"
	"strings"
)

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
// list whose length varies belongs in AnyOf, which keeps the statement's text fixed.
func InList[T any](a *Args, vals []T) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = a.Add(v)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}
