package aip

import "strings"

// OrderError reports an order_by a List method does not support; Allowed are the ones it does.
type OrderError struct{ Allowed []string }

func (e *OrderError) Error() string {
	return `order_by must be one of "` + strings.Join(e.Allowed, `", "`) + `"`
}
