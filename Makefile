# jiayuan — run `make` for the list of targets.
SHELL := /bin/bash
GO    ?= go
# buf and the protoc plugins are pinned Go tools in their own modules (see tools/), kept out of
# the workspace so buf's pre-release protobuf never reaches the app's build.
BUF   := GOWORK=off $(GO) tool -modfile=tools/buf/go.mod buf
# Every module of the workspace: `go test ./...` at the root would reach only the root module.
MODULES  = $(shell $(GO) list -m -f '{{.Dir}}')
PKGS     = $(addsuffix /...,$(MODULES))
DATA_DIR ?= .data

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## run the whole suite locally (jiayuan dev): embedded SQLite under .data, demo data
	$(GO) run ./cmd/jiayuan dev --data-dir $(DATA_DIR)

.PHONY: test
test: ## run every module's tests with -race (PostgreSQL too when JIAYUAN_TEST_POSTGRES_URL is set)
	$(GO) test -race -count=1 $(PKGS)

# Go native fuzz targets, package:target; each has a seed corpus in its package's testdata/fuzz.
FUZZ_TARGETS = \
	platform/aip:FuzzParseFilter platform/sqlstore:FuzzFilterCompile platform/aip:FuzzPageToken \
	platform/aip:FuzzValidName gateway:FuzzErrorMapping platform/auth:FuzzVerify \
	platform/auth:FuzzAuthorizationHeader
FUZZTIME ?= 10s

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (10s): filters, page tokens, names, the gateway's errors, tokens
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name (./$$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

.PHONY: build
build: ## build the static jiayuan binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/jiayuan ./cmd/jiayuan

IMAGE   ?= jiayuan
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: image
image: ## build the container image $(IMAGE):$(VERSION) (Dockerfile); with no Docker engine, its static binary (make build)
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		docker build --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) . ; \
	else \
		echo "no Docker engine answers here: building the image's static binary instead (make build)"; \
		$(MAKE) --no-print-directory build; \
	fi

.PHONY: generate
generate: ## regenerate Go and OpenAPI from proto/
	rm -rf gen/jiayuan gateway/openapi/jiayuan.swagger.json
	$(BUF) generate

.PHONY: lint
lint: ## buf lint and format check, gofmt, go vet on every module
	$(BUF) lint
	$(BUF) format -d --exit-code proto
	@out=$$(git ls-files -co --exclude-standard '*.go' | grep -v '^gen/' | xargs gofmt -l); if [ -n "$$out" ]; then echo "not gofmt-ed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# What the protos are checked against: the commit before this one (HEAD~1). CI runs on a fresh
# clone of main, whose HEAD is the commit being checked, so this is "the previous commit of
# main"; on a branch, set BREAKING_AGAINST (e.g. '.git#branch=main' where main is a local
# branch, or '.git#ref=origin/main' in a clone). Needs history: a clone of depth 1 has no HEAD~1.
BREAKING_AGAINST ?= .git\#ref=HEAD~1

.PHONY: breaking
breaking: ## buf breaking against the previous commit (BREAKING_AGAINST to change)
	$(BUF) breaking --against '$(BREAKING_AGAINST)'

.PHONY: check-generated
check-generated: generate ## fail when committed generated code is stale
	@git diff --exit-code --stat -- gen gateway/openapi || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- gen gateway/openapi); if [ -n "$$untracked" ]; then echo "generated files not committed:"; echo "$$untracked"; exit 1; fi

.PHONY: bench
bench: ## benchmarks against the assembled suite on PostgreSQL (needs JIAYUAN_BENCH_POSTGRES_URL or a local server)
	$(GO) run ./cmd/jiayuan-bench

# The long fault tests of internal/chaos (JIAYUAN_CHAOS=long): every replica of every service
# restarted twice under load, four rounds of killed connections and PostgreSQL restarts on a
# private cluster, a feed consumer stopped for two minutes. Loopback only; PostgreSQL too when
# JIAYUAN_TEST_POSTGRES_URL is set; bounded by the timeout.
.PHONY: chaos-faults
chaos-faults: ## the long fault tests: rolling restarts, database faults, a consumer stopped for minutes (at most 10 minutes)
	JIAYUAN_CHAOS=long $(GO) test -race -count=1 -timeout 10m -v -run 'TestRollingRestartUnderLoad|TestDatabaseFaultsUnderLoad|TestStoppedConsumerCatchesUp' ./internal/chaos/

SOAK ?= 30m

.PHONY: chaos-soak
chaos-soak: build ## soak: jiayuan dev (bin/jiayuan) at a city's peak, 250 mixed calls/s, for SOAK (30m): no failed call, RSS and goroutines flat
	JIAYUAN_SOAK=$(SOAK) JIAYUAN_SOAK_BINARY=$(CURDIR)/bin/jiayuan $(GO) test -count=1 -v -timeout 0 -run '^TestSoak$$' ./internal/soak/

.PHONY: chaos
chaos: chaos-faults chaos-soak ## every long reliability test: the fault tests, then the soak

.PHONY: tidy
tidy: ## go mod tidy in every module
	@for m in $(MODULES); do (cd $$m && GOWORK=off GOFLAGS=-mod=mod $(GO) mod tidy) || exit 1; done
