// Package knobs carries the settings that only simulations, benchmarks and
// this repository's tests turn — an epoch standing for more real time than
// it lasts, a reproducible jitter, a sync state without its node — so that
// they stay out of the public API of packages mvds and retry.
//
// Those packages fill in the function variables here from their init
// functions (this package cannot import them: they import it). Arguments and
// results are typed as any where naming the type would need such an import;
// the callers in this repository convert them back.
//
// Nothing outside this repository can import it, and nothing in a
// production configuration calls it.
package knobs
