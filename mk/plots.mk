# Charts of the benchmarks (docs/benchmarks.md, section "Plots"): the outage matrix and the 30 s
# disconnect over go-waku, stock vs guarded, drawn as SVG by `mvdsqa plot`.

.PHONY: plots

## plots: measure the outage matrix (simulated) and the 30 s disconnect over go-waku again, redraw
## docs/img/outage-matrix.svg and docs/img/waku-disconnect.svg and rewrite the plots section of
## docs/benchmarks.md, keeping the numbers in docs/img/plots.json (redraw from them alone: cd qa &&
## go run ./cmd/mvdsqa plot -dir ../docs/img -redraw ../docs/img/plots.json -doc ../docs/benchmarks.md).
## About 5 minutes.
PLOT_FLAGS ?=
plots:
	cd qa && $(GO) run ./cmd/mvdsqa plot -dir ../docs/img -data ../docs/img/plots.json -doc ../docs/benchmarks.md $(PLOT_FLAGS)
