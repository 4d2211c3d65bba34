# Static audit (audit/static, audit/config, audit/rule, audit/cmd/mvdsaudit; the audit module): benchmark, fuzzing and a
# convenience target for auditing a status-go checkout.

BENCH_TARGETS += bench-audit

.PHONY: bench-audit fuzz-audit audit-status-go

## bench-audit: mvdsaudit against go vet on the fixtures and a ~200k-line synthetic tree (cold
## cache, edited, unchanged), with peak memory; rewrites the audit section of docs/benchmarks.md.
AUDIT_BENCH_RUNS ?= 3
bench-audit:
	cd audit && $(GO) run ./static/internal/auditbench -runs $(AUDIT_BENCH_RUNS) -doc ../docs/benchmarks.md

## fuzz-audit: fuzz the audit module's parsers (both audits' configuration files, suppression
## directives, baseline, the .proto numbering of message types, saved reports for diff) for
## FUZZTIME each. Their seeds under testdata/fuzz run with every `make test`.
fuzz-audit:
	cd audit && $(GO) test ./config -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	cd audit && $(GO) test ./static/suppress -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	cd audit && $(GO) test ./static/baseline -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	cd audit && $(GO) test ./static -run '^$$' -fuzz '^FuzzParseProtoTable$$' -fuzztime $(FUZZTIME)
	cd audit && $(GO) test ./static/report -run '^$$' -fuzz '^FuzzReadJSON$$' -fuzztime $(FUZZTIME)

## audit-status-go: run the audit on a status-go checkout, STATUS_GO=/path/to/status-go.
audit-status-go:
	@test -n "$(STATUS_GO)" || { echo "set STATUS_GO to a status-go checkout"; exit 2; }
	cd audit && $(GO) run ./cmd/mvdsaudit -C $(abspath $(STATUS_GO)) -sites ./protocol/...
