# QA harness (qa/cmd/mvdsqa; the QA module): the go-waku benchmark and fuzzing of the
# scenario parser.

BENCH_TARGETS += bench-waku

.PHONY: bench-waku fuzz-qa

## bench-waku: stock and guarded QA nodes over go-waku relay on 127.0.0.1 — 1,000 1:1 messages
## (send-to-ack p50/p99) and contact requests queued during a 30 s disconnect (delivered within 2 s of
## reconnecting); rewrites the waku section of docs/benchmarks.md. About 4 minutes.
WAKU_BENCH_FLAGS ?=
bench-waku:
	cd qa && $(GO) run ./cmd/mvdsqa bench -doc ../docs/benchmarks.md $(WAKU_BENCH_FLAGS)

## fuzz-qa: fuzz the scenario parser for FUZZTIME. Its seeds under testdata/fuzz run with every `make test`.
fuzz-qa:
	cd qa && $(GO) test ./cmd/mvdsqa/internal/scenario -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
