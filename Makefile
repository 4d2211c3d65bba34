# mvdsguard — every command a developer or CI needs.
# `make demo` runs the main job on embedded defaults; `make test` is what CI runs.

GO        ?= go
# cgo is required: SQLite comes from github.com/mattn/go-sqlite3.
export CGO_ENABLED = 1
TEST_TIMEOUT ?= 30m
BENCH_TIME   ?= 1x
BENCH_COUNT  ?= 1
# Further bench targets are appended by the fragments in mk/.
BENCH_TARGETS :=

.PHONY: all build test test-short lint fmt vet bench bench-go demo fuzz clean

all: build

build:
	$(GO) build ./...

## test: formatting, vet, and every test under the race detector.
test: lint
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-short: the fast subset, without the race detector.
test-short:
	$(GO) test -short -count=1 ./...

lint: fmt vet

fmt:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

-include mk/*.mk

## bench: every benchmark; results belong in docs/benchmarks.md.
bench: bench-go $(BENCH_TARGETS)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCH_TIME) -count $(BENCH_COUNT) -timeout 60m ./...

## fuzz: run each fuzz target for FUZZTIME (seeds always run as part of `make test`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./mvds -run '^$$' -fuzz '^FuzzDecodePacket$$' -fuzztime $(FUZZTIME)

## demo: the QA suite (fixtures/scenarios) on go-waku nodes on 127.0.0.1, stock vs guarded side by side,
## then the simulated long outages; SQLite files in a temporary directory.
demo:
	$(GO) run ./tools/mvdsqa demo

clean:
	$(GO) clean -testcache
