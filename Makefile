# mvdsguard — every command a developer or CI needs.
# `make demo` runs the main job on embedded defaults; `make test` is what CI runs.
#
# The repository holds several Go modules, one per kind of user (see
# docs/modules.md): the core (this directory) that status-go imports, the
# audit module (audit/), the QA module (qa/) and the status-go compatibility
# check (compat/statusgo/). Every target below covers all of them.

GO        ?= go
# cgo is required: SQLite comes from github.com/mattn/go-sqlite3 (package
# sqlitedb and the tests), SQLCipher in the compatibility module.
export CGO_ENABLED = 1
TEST_TIMEOUT ?= 30m
BENCH_TIME   ?= 1x
BENCH_COUNT  ?= 1
MODULES      := . audit qa compat/statusgo deploy/validate
# The platforms Status ships on: the core must vet and build for each.
CORE_PLATFORMS := linux/amd64 darwin/arm64 windows/amd64 android/arm64 ios/arm64
STATICCHECK  ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Further bench targets are appended by the fragments in mk/.
BENCH_TARGETS :=

.PHONY: all build test test-short lint fmt vet staticcheck tidy platforms bench bench-go demo fuzz clean

all: build

# each runs a command in every module: $(call each,go vet ./...)
each = set -e; for m in $(MODULES); do echo "== $$m: $(1)"; (cd $$m && $(1)); done

build:
	@$(call each,$(GO) build ./...)

## test: formatting, vet, staticcheck, tidiness, the platform builds, and every test of every module
## under the race detector.
test: lint
	@$(call each,$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...)

## test-short: the fast subset, without the race detector.
test-short:
	@$(call each,$(GO) test -short -count=1 ./...)

lint: fmt vet staticcheck tidy platforms

fmt:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## vet: go vet in every module (its stdversion check holds the core to its go 1.21 line).
vet:
	@$(call each,$(GO) vet ./...)

staticcheck:
	@$(call each,$(GO) run $(STATICCHECK) ./...)

## tidy: every go.mod and go.sum is what `go mod tidy` would write.
tidy:
	@$(call each,$(GO) mod tidy -diff)

## platforms: the core vets and builds for every platform Status ships on. GOOS=ios implies
## the darwin build tag, so darwin's vet covers its files; vet itself cannot run for ios without
## an iOS C toolchain, so ios is built (every package, tests excluded).
platforms:
	@set -e; for p in $(CORE_PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; echo "== core on $$os/$$arch"; \
		if [ $$os != ios ]; then GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) vet ./...; fi; \
		GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) build ./...; done

-include mk/*.mk

## bench: every benchmark; results belong in docs/benchmarks.md.
bench: bench-go $(BENCH_TARGETS)

bench-go:
	@$(call each,$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCH_TIME) -count $(BENCH_COUNT) -timeout 60m ./...)

## fuzz: run each fuzz target for FUZZTIME (seeds always run as part of `make test`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./mvds/wire -run '^$$' -fuzz '^FuzzDecodePacket$$' -fuzztime $(FUZZTIME)

## demo: the QA suite (fixtures/scenarios) on go-waku nodes on 127.0.0.1, stock vs guarded side by side,
## then the simulated long outages; SQLite files in a temporary directory.
demo:
	cd qa && $(GO) run ./cmd/mvdsqa demo -suite ../fixtures/scenarios

clean:
	$(GO) clean -testcache

print-modules:
	@echo $(MODULES)
