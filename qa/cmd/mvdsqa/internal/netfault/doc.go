// Package netfault makes kernel-level network faults for QA nodes: every
// node in a network namespace of its own, joined by a veth pair to a bridge
// that lives in a namespace of its own too, on private addresses that are
// routed nowhere; then links taken down and up, packet-filter partitions,
// loss, rate limits, delay and jitter, and address changes, each made with
// the best mechanism the running kernel offers (netem where it exists,
// nftables, htb and a userspace NFQUEUE delayer where it does not).
//
// It owns the namespaces, links, qdiscs and filter rules of a lab, their
// naming (so that a later run removes what a killed one left behind), and
// detecting what the kernel can do. It knows nothing of scenarios or QA
// nodes: the runner decides which fault goes where.
package netfault
