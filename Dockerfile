# syntax=docker/dockerfile:1
# The jiayuan image: one static binary for every service and command (`jiayuan serve partner`,
# `jiayuan serve gateway`, `jiayuan migrate partner`, …) on a distroless base: no shell, no
# package manager, a non-root user. The Kubernetes manifests (deploy/k8s) run it with args only.
#
# Base images are pinned by exact version tag. Pin them by digest too, in the district's
# registry mirror (FROM mirror.example/golang:1.26.8-bookworm@sha256:…): digests cannot be
# resolved on the offline machines this file is maintained on. Keep the Go version the one
# go.work's toolchain uses (deploy/image checks both).
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
# The module proxy the build machine reaches (the district's mirror, or the public one).
ARG GOPROXY=https://proxy.golang.org,direct
ARG VERSION=dev
# CGO_ENABLED=0: a static binary (SQLite is pure Go), so the runtime image needs no libc.
# GOTOOLCHAIN=local: build with this image's Go, never a downloaded one.
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOPROXY=${GOPROXY}
WORKDIR /src
COPY . .
# The build `make build` runs, stamped with the version.
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-X github.com/jiayuan/jiayuan/internal/cli.Version=${VERSION}" \
      -o /out/jiayuan ./cmd/jiayuan

FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
LABEL org.opencontainers.image.title="jiayuan" \
      org.opencontainers.image.description="家园合伙人 community co-governance platform: every service in one binary" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/jiayuan /usr/local/bin/jiayuan
# distroless's nonroot user; the manifests require the same (runAsNonRoot, runAsUser 65532).
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/jiayuan"]
