# ark: build, test and verify. `make help` lists the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

OUTPUT  := _output
BIN     := $(OUTPUT)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
GIT_SHA := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_TREE_STATE := $(shell if git diff --quiet HEAD 2>/dev/null; then echo clean; else echo dirty; fi)
LDFLAGS := -s -w \
	-X github.com/heptio/ark/pkg/buildinfo.Version=$(VERSION) \
	-X github.com/heptio/ark/pkg/buildinfo.GitSHA=$(GIT_SHA) \
	-X github.com/heptio/ark/pkg/buildinfo.GitTreeState=$(GIT_TREE_STATE)
IMAGE_REPO ?= heptio/ark
IMAGE   ?= $(IMAGE_REPO):$(VERSION)
# Integration and end-to-end tests start their own control plane and object stores.
INTEGRATION_TIMEOUT ?= 40m

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the ark binary into _output/bin/ark.
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ark ./cmd/ark

.PHONY: test
test: verify test-unit test-integration test-faults ## Run the whole test suite: verify, unit, integration and end-to-end tests on a local control plane and real object stores, then the fault-injection suite.

.PHONY: test-unit
test-unit: ## Run the unit tests (no servers needed).
	go test -count=1 ./...

.PHONY: kube-tools
kube-tools: ## Build kube-apiserver and kube-controller-manager for the local control plane (once; cached in _output/bin).
	hack/local-cluster.sh build

.PHONY: object-stores
object-stores: ## Build/install the object-store test servers (MinIO, fake-gcs-server, Azurite) and the AWS KMS emulator (local-kms); once; cached in _output/objectstores.
	hack/object-stores.sh install

.PHONY: test-integration
test-integration: build kube-tools object-stores ## Run the integration and end-to-end tests (builds and starts kube-apiserver, etcd and the object-store servers on loopback; cached in _output/).
	go test -count=1 -tags integration -timeout $(INTEGRATION_TIMEOUT) -p 1 -skip '^TestFault' ./...

.PHONY: test-faults
test-faults: build kube-tools object-stores ## Run the fault-injection suite (ark server SIGKILLed mid-backup and mid-restore, object store stopped or unreachable, junk in the bucket) and print its table.
	go test -count=1 -tags integration -timeout $(INTEGRATION_TIMEOUT) -p 1 -v -run '^TestFault' ./pkg/test/e2e/ 2>&1 | grep -v '^=== \(RUN\|PAUSE\|CONT\)'

.PHONY: bench
BENCH_REPORT := $(CURDIR)/_output/bench-report.md
bench: build kube-tools object-stores ## Run the benchmarks and print one table: ark server (its ServiceAccount, default flags) against raw client-go loops: 10,000 ConfigMaps; 10,000 and 100,000 mixed objects over 250/2,500 namespaces (ARK_BENCH_SCALE); a quiet server; encryption's cost (age, 10,000 ConfigMaps: encrypted/unencrypted backup and restore); also the engines and object-store throughput.
	@mkdir -p _output && rm -f $(BENCH_REPORT)
	ARK_BENCH_REPORT=$(BENCH_REPORT) go test -tags integration -run '^$$' -bench . -skip '^BenchmarkVelero$$' -benchtime 1x -timeout 180m -p 1 ./...
	@echo; echo "ark server against a raw client-go loop doing the same work, in this run (raw/ark: the server's share of the raw rate, 1 = as fast):"; echo
	@echo "| work | raw client-go loop | raw s | ark s | raw/ark | goal | server peak RSS MiB |"
	@echo "|---|---|---|---|---|---|---|"
	@cat $(BENCH_REPORT)

.PHONY: velero
velero: ## Build Velero v1.18.1 and velero-plugin-for-aws v1.14.3 from the Go module proxy into _output/velero (once; cached), for make bench-velero.
	hack/velero.sh install

.PHONY: bench-velero
VELERO_BENCH_REPORT := $(CURDIR)/_output/bench-velero-report.md
bench-velero: build kube-tools object-stores velero ## Run ark server and Velero v1.18.1 side by side (same control plane and MinIO, each at its default flags as its ServiceAccount) against raw client-go loops: backup and restore of 10,000 ConfigMaps; one table. Not part of make test or make bench.
	@mkdir -p _output && rm -f $(VELERO_BENCH_REPORT)
	ARK_BENCH_REPORT=$(VELERO_BENCH_REPORT) go test -tags integration -run '^$$' -bench '^BenchmarkVelero$$' -benchtime 1x -timeout 60m -p 1 ./pkg/test/e2e/
	@echo; echo "ark server and Velero against a raw client-go loop doing the same work, in this run (raw/server: the server's share of the raw rate, 1 = as fast):"; echo
	@echo "| work | raw client-go loop | raw s | server s | raw/server | goal | server peak RSS MiB |"
	@echo "|---|---|---|---|---|---|---|"
	@cat $(VELERO_BENCH_REPORT)

.PHONY: verify
verify: ## Check formatting, go vet, and that generated code and manifests are up to date.
	@files=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$files" ]]; then echo "gofmt needed:"; echo "$$files"; exit 1; fi
	go vet ./...
	go vet -tags integration ./...
	hack/verify-codegen.sh

.PHONY: codegen
codegen: ## Regenerate deepcopy, OpenAPI definitions, apply configurations, clientset, listers, informers, CRDs and examples/common/00-prereqs.yaml.
	hack/update-codegen.sh

.PHONY: local-cluster-up
local-cluster-up: ## Start a local control plane (etcd, kube-apiserver, kube-controller-manager) on loopback.
	hack/local-cluster.sh up

.PHONY: local-cluster-status
local-cluster-status: ## Show the state of the local control plane.
	hack/local-cluster.sh status

.PHONY: local-cluster-down
local-cluster-down: ## Stop the local control plane and remove its data.
	hack/local-cluster.sh down

.PHONY: image
image: ## Build the container image heptio/ark:$(VERSION), also tagged heptio/ark:latest (needs a Docker engine). `ark install` of the same tree uses heptio/ark:$(VERSION).
	docker build --build-arg VERSION=$(VERSION) --build-arg GIT_SHA=$(GIT_SHA) -t $(IMAGE) -t $(IMAGE_REPO):latest .

.PHONY: clean
clean: ## Remove the ark binary (the cached test servers in _output/ stay; remove _output/ to rebuild them).
	rm -f $(BIN)/ark

.PHONY: quickstart
quickstart: ## Run the quickstart end to end: local control plane, local bucket, nginx example, backup, delete, restore, check.
	hack/quickstart.sh

.PHONY: quickstart-down
quickstart-down: ## Stop the quickstart's server and control plane; its bucket is kept in _output/quickstart-buckets/.
	hack/quickstart.sh down
