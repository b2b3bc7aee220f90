// Package image holds the checks of the container image's build (the Dockerfile at the
// repository root), run with the deploy module's tests since no Docker engine runs in CI: base
// images pinned by version, the static non-root build `make build` also makes.
package image
