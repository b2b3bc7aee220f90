// Package aip holds the API mechanics every jiayuan service shares, after Google's API
// Improvement Proposals: opaque page tokens bound to their query (AIP-158), a small documented
// subset of filtering (AIP-160) compiled to parameterised SQL, etags (AIP-154) and field masks
// for partial updates (AIP-134).
package aip
