# Runtime audit over a fleet of node logs: one core against two.

BENCH_TARGETS += bench-runtime-fleet

.PHONY: bench-runtime-fleet

## bench-runtime-fleet: mvdsaudit runtime over RUNTIME_FLEET_NODES node logs of RUNTIME_FLEET_NODE_SIZE each
## (generated into a temporary directory and deleted), with GOMAXPROCS=1 against GOMAXPROCS=2, and peak memory;
## rewrites the runtime-fleet section of docs/benchmarks.md. `make bench-runtime` runs it too.
RUNTIME_FLEET_NODES     ?= 100
RUNTIME_FLEET_NODE_SIZE ?= 40MiB
RUNTIME_FLEET_RUNS      ?= 5
bench-runtime-fleet:
	cd audit && $(GO) run ./dynamic/internal/runtimebench -fleet $(RUNTIME_FLEET_NODES) -node-size $(RUNTIME_FLEET_NODE_SIZE) -runs $(RUNTIME_FLEET_RUNS) -doc ../docs/benchmarks.md

bench-runtime: bench-runtime-fleet

## fuzz-runtime-fleet: fuzz the naming of nodes from log file paths for FUZZTIME (run by `make fuzz-runtime`).
.PHONY: fuzz-runtime-fleet
fuzz-runtime-fleet:
	cd audit && $(GO) test ./dynamic/logfiles -run '^$$' -fuzz '^FuzzNodeName$$' -fuzztime $(FUZZTIME)

fuzz-runtime: fuzz-runtime-fleet
