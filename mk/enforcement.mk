# The enforcement layer's bench target: the outage matrix, stock vs guarded,
# printed as a table with ratios (see docs/benchmarks.md).
BENCH_TARGETS += bench-outage

OUTAGE_FLAGS ?=

.PHONY: bench-outage
bench-outage:
	cd qa && $(GO) run ./cmd/mvdsqa outage $(OUTAGE_FLAGS)
