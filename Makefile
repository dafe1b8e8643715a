# socialsync — run `make help` for the targets.

SHELL      := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
MODULES    := pkg proto $(wildcard services/*)
MODULES    += deploy
TOOLS_BIN  := $(CURDIR)/.bin
BUF        := $(TOOLS_BIN)/buf
PROTOC_GEN_GO := $(TOOLS_BIN)/protoc-gen-go
GO_TEST_FLAGS ?= -race -count=1 -timeout=30m
# VERSION is every binary's service.version (pkg/telemetry.Version).
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS    := -X github.com/socialsync/socialsync/pkg/telemetry.version=$(VERSION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build ## Run the main job on embedded defaults (see README).
	./bin/socialsync run

.PHONY: sandbox
sandbox: build ## Serve the HighLevel simulator with demo data on 127.0.0.1:8090.
	./bin/socialsync sandbox --listen 127.0.0.1:8090 --seed demo

.PHONY: build
build: ## Build every binary into ./bin/.
	@mkdir -p bin
	@for m in services/*; do \
	  for c in $$m/cmd/*; do \
	    echo "go build -o bin/$$(basename $$c) ./$$c"; \
	    go build -ldflags "$(LDFLAGS)" -o bin/$$(basename $$c) ./$$c; \
	  done; \
	done

.PHONY: test
test: jaeger ## Run every module's tests (race detector on).
	@failed=""; for m in $(MODULES); do \
	  echo "== go test $$m"; \
	  (cd $$m && go test $(GO_TEST_FLAGS) ./...) || failed="$$failed $$m"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi

.PHONY: jaeger
jaeger: ## Build the Jaeger v2 binary the tracing e2e test runs (cached; the first build takes minutes).
	@scripts/jaeger.sh >/dev/null

.PHONY: test-traces
test-traces: jaeger ## Run the end-to-end tracing and metrics tests alone (workers as processes, Jaeger v2).
	cd services/socialsync && go test -count=1 -timeout=15m -run 'TestTracesInJaeger|TestWorkerMetrics' -v ./e2e/

.PHONY: stress
stress: ## Twelve worker processes, 3 s tokens, a 20 / 2 s window, two CPU burners: no window over its limit, no 429.
	@mkdir -p bin
	cd services/socialsync && go test -c -o $(CURDIR)/bin/e2e-stress.test ./e2e/
	@# Two CPU burners for the test's length at most, killed when it ends.
	@burners=""; trap 'kill $$burners 2>/dev/null || true' EXIT; \
	for i in 1 2; do timeout 600 sh -c 'while :; do :; done' & burners="$$burners $$!"; done; \
	cd services/socialsync/e2e && SOCIALSYNC_STRESS=1 $(CURDIR)/bin/e2e-stress.test \
	  -test.run '^TestStressWindow$$' -test.count=1 -test.timeout=10m -test.v

# CLUSTER is the number of nats-server nodes the soak runs against: 1, or 3
# for a JetStream cluster on loopback with everything at three replicas.
CLUSTER ?= 1

.PHONY: soak
soak: ## Run the soak (about 3 minutes; CLUSTER=3 for a three-node JetStream cluster; docs/soak.md).
	cd services/socialsync && SOCIALSYNC_SOAK=1 SOCIALSYNC_SOAK_CLUSTER=$(CLUSTER) \
	  go test -count=1 -timeout=20m -run '^TestSoak$$' -v ./e2e/

.PHONY: bench
bench: ## Run every benchmark once and print one table of every figure beside its target (docs/measured.md).
	.ci/bench

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 20s).
	cd pkg && for f in FuzzParseRateLimit FuzzDecodeErrorBody; do \
	  go test -run='^$$' -fuzz="^$$f$$" -fuzztime=$${FUZZTIME:-20s} ./ghl/; \
	done

.PHONY: lint
lint: $(BUF) ## gofmt, go vet, buf lint, the architecture test (layers, star module graph, no NATS in domain packages), GOWORK=off builds.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do echo "== go vet $$m"; (cd $$m && go vet ./...); done
	cd proto && $(BUF) lint
	cd deploy && go test -count=1 -run '^TestArchitecture$$' .
	@for m in $(MODULES); do (cd $$m && GOWORK=off go build ./...) || { echo "$$m does not build with GOWORK=off"; exit 1; }; done

.PHONY: proto
proto: $(BUF) $(PROTOC_GEN_GO) ## Regenerate the Go code of the message contracts.
	cd proto && PATH="$(TOOLS_BIN):$$PATH" $(BUF) generate

.PHONY: tidy
tidy: ## go mod tidy in every module.
	@for m in $(MODULES) tools tools/jaeger; do echo "== go mod tidy $$m"; (cd $$m && GOWORK=off go mod tidy); done

.PHONY: check-clean
check-clean: proto tidy ## Fail when generated code or go.mod/go.sum are stale.
	@if [ -n "$$(git status --porcelain)" ]; then \
	  echo "the tree changed after 'make proto tidy'; commit the result:"; git status --porcelain; exit 1; \
	fi

$(BUF): tools/go.mod tools/go.sum
	@mkdir -p $(TOOLS_BIN)
	cd tools && GOWORK=off go build -o $(BUF) github.com/bufbuild/buf/cmd/buf

$(PROTOC_GEN_GO): tools/go.mod tools/go.sum
	@mkdir -p $(TOOLS_BIN)
	cd tools && GOWORK=off go build -o $(PROTOC_GEN_GO) google.golang.org/protobuf/cmd/protoc-gen-go

.PHONY: clean
clean: ## Remove build outputs.
	rm -rf bin .bin
