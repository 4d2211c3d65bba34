# Runtime audit (audit/dynamic, mvdsaudit runtime): the log-reading benchmark
# and fuzzing of its parsers.

BENCH_TARGETS += bench-runtime

.PHONY: bench-runtime fuzz-runtime

## bench-runtime: mvdsaudit runtime against wc -l and a bufio line scan on generated status-go logs
## (geth terminal, zap console, zap JSON; RUNTIME_BENCH_SIZE each, written to a temporary directory and
## deleted), with peak memory; rewrites the runtime section of docs/benchmarks.md.
RUNTIME_BENCH_SIZE ?= 1GiB
RUNTIME_BENCH_RUNS ?= 3
bench-runtime:
	cd audit && $(GO) run ./dynamic/internal/runtimebench -size $(RUNTIME_BENCH_SIZE) -runs $(RUNTIME_BENCH_RUNS) -doc ../docs/benchmarks.md

## fuzz-runtime: fuzz the runtime audit's parsers (status-go log lines, JSON Lines records) for
## FUZZTIME each. Their seeds under testdata/fuzz run with every `make test`.
fuzz-runtime:
	cd audit && $(GO) test ./dynamic/statusgolog -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	cd audit && $(GO) test ./dynamic -run '^$$' -fuzz '^FuzzParseRecord$$' -fuzztime $(FUZZTIME)
