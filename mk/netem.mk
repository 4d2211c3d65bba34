# Kernel-level faults (qa/cmd/mvdsqa -netns): the netem suite in network
# namespaces. Needs root, iproute2, nftables and iptables (.ci/run installs them).

.PHONY: demo-netem

## demo-netem: the netem suite (fixtures/scenarios/netem) — 1 s ± 100 ms delay, 50 % loss, 1 kbit/s,
## link down for 30 s, SIGSTOP for 20 s — stock and guarded side by side, every node in a network
## namespace of its own; prints the table and which mechanism made each fault. About 5 minutes; root.
demo-netem:
	cd qa && $(GO) run ./cmd/mvdsqa demo -netns -sim=false -suite ../fixtures/scenarios/netem
