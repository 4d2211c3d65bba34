# DST scale on one machine (qa/cmd/mvdsqa dst; docs/dst.md). Neither runs in `make test`: the
# outage plan is 100 node processes for about 15 minutes, the scaling benchmark about 6 minutes of
# up to 100 processes — together most of CI's 90 minutes on 2 cores.

BENCH_TARGETS += bench-dst

.PHONY: demo-dst bench-dst

## demo-dst: DST's 1:1 outage plan scaled to 100 node processes (fixtures/scenarios/dst), on stock
## nodes then on guarded nodes: eventual delivery, reconnect-to-delivery p50/p99/max, attempts
## wasted offline, cost per node. About 15 minutes.
demo-dst:
	cd qa && $(GO) run ./cmd/mvdsqa dst outage ../fixtures/scenarios/dst/01-one-to-one-outage-100.yaml

## bench-dst: the cost per node at 10, 25, 50 and 100 nodes (memory, CPU, the runner's overhead,
## whether every message is still delivered within 10 s). About 6 minutes.
DST_NODES ?= 10,25,50,100
bench-dst:
	cd qa && $(GO) run ./cmd/mvdsqa dst scale -nodes $(DST_NODES) -for 60s
