// Package wait polls a condition in tests, bounded in time: tests of
// concurrent, networked code wait for an outcome instead of sleeping a guess.
package wait

import (
	"testing"
	"time"
)

// For polls cond every few milliseconds until it holds, and fails the test
// naming what it waited for once within has passed.
func For(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
