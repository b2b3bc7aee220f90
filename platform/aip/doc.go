// Package aip holds the API mechanics every jiayuan service shares, after Google's API
// Improvement Proposals: opaque page tokens bound to their query (AIP-158), a small documented
// subset of filtering (AIP-160) parsed into conditions, etags (AIP-154) and field masks for
// partial updates (AIP-134). It knows nothing of SQL: sqlstore.FilterSchema compiles the
// conditions into a store's columns.
package aip
