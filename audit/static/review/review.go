// Package review compares the send sites of two static audits of one code
// base — before and after a change — and says what the change does to each
// critical send: sites added, removed, or whose verdict changed, with the
// regressions (a site that went through MVDS and does not any more) first.
//
// Sites are matched by what they are, not by where they are: the package
// directory, the function, the flow and the message type. Several sites
// with the same identity in one function are paired in source order,
// preferring the same send call. A site whose function was renamed or moved
// to another package is paired with its old self when exactly one removed
// and one added site have the same flow, message type, send function,
// ResendType and verdict; it is then reported as renamed, not as a change.
//
// It knows the shape of a site and of a verdict; it must not know how sites
// are computed, and it prints nothing but the comparison.
package review

import (
	"path"
	"sort"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/static"
)

// Kinds of change.
const (
	Changed = "changed"
	Added   = "added"
	Removed = "removed"
	Renamed = "renamed"
)

// Change is one site the change affects.
type Change struct {
	Kind string `json:"kind"`
	// Regression: the site went through MVDS before and does not after.
	Regression  bool   `json:"regression"`
	Function    string `json:"function"`
	Flow        string `json:"flow"`
	MessageType string `json:"messageType"`
	// Before and After are the site on each side (nil when absent).
	Before *static.Site `json:"before,omitempty"`
	After  *static.Site `json:"after,omitempty"`
}

// Review is the comparison of two audits.
type Review struct {
	// Base and Head say what was compared (a git ref, a report file, a
	// directory).
	Base string `json:"base"`
	Head string `json:"head"`
	// BaseSites and HeadSites count the critical send sites on each side.
	BaseSites int      `json:"baseSites"`
	HeadSites int      `json:"headSites"`
	Changes   []Change `json:"changes"`
	// Unchanged counts the sites matched with the same verdict.
	Unchanged int `json:"unchanged"`
}

// Regressions counts the changes that are regressions.
func (r *Review) Regressions() int {
	n := 0
	for _, c := range r.Changes {
		if c.Regression {
			n++
		}
	}
	return n
}

// Count returns how many changes are of kind k.
func (r *Review) Count(k string) int {
	n := 0
	for _, c := range r.Changes {
		if c.Kind == k {
			n++
		}
	}
	return n
}

// identity is what a site is, whatever line it sits on.
func identity(s static.Site) string {
	return pkgDir(s.Position) + "\x00" + s.Function + "\x00" + s.Flow + "\x00" + s.MessageType
}

// pkgDir is the directory of a "file:line:col" position.
func pkgDir(pos string) string {
	file := pos
	if parts := strings.Split(pos, ":"); len(parts) >= 3 {
		file = strings.Join(parts[:len(parts)-2], ":")
	}
	return path.Dir(file)
}

// sendFunc is the send function that finally handles the site's message
// (the last step of each alternative of its send call).
func sendFunc(s static.Site) string {
	var last []string
	for _, alt := range strings.Split(s.SendCall, " | ") {
		steps := strings.Split(alt, " → ")
		last = append(last, steps[len(steps)-1])
	}
	sort.Strings(last)
	return strings.Join(last, "|")
}

// verdictOf is what a reviewer compares: the verdict and, for a site
// without MVDS, its fail path.
func verdictOf(s static.Site) string {
	if s.Mechanism != "" {
		return s.Verdict + " (" + s.Mechanism + ")"
	}
	return s.Verdict
}

// Compare matches the sites of base and head and lists what differs.
func Compare(base, head []static.Site) *Review {
	r := &Review{BaseSites: len(base), HeadSites: len(head), Changes: []Change{}}
	byID := map[string][]int{}
	for i, s := range base {
		byID[identity(s)] = append(byID[identity(s)], i)
	}
	usedBase := make([]bool, len(base))
	matched := make([]int, len(head))
	for i := range matched {
		matched[i] = -1
	}
	// First the same identity and send call, then the same identity, in
	// source order.
	for pass := 0; pass < 2; pass++ {
		for hi, h := range head {
			if matched[hi] >= 0 {
				continue
			}
			for _, bi := range byID[identity(h)] {
				if usedBase[bi] || pass == 0 && base[bi].SendCall != h.SendCall {
					continue
				}
				usedBase[bi], matched[hi] = true, bi
				break
			}
		}
	}
	for hi, bi := range matched {
		if bi < 0 {
			continue
		}
		b, h := base[bi], head[hi]
		if verdictOf(b) == verdictOf(h) {
			r.Unchanged++
			continue
		}
		r.Changes = append(r.Changes, Change{Kind: Changed, Regression: regressed(b, h), Function: h.Function,
			Flow: h.Flow, MessageType: h.MessageType, Before: &b, After: &h})
	}
	var removed, added []int
	for bi := range base {
		if !usedBase[bi] {
			removed = append(removed, bi)
		}
	}
	for hi := range head {
		if matched[hi] < 0 {
			added = append(added, hi)
		}
	}
	removed, added = r.renames(base, head, removed, added)
	for _, bi := range removed {
		b := base[bi]
		r.Changes = append(r.Changes, Change{Kind: Removed, Function: b.Function, Flow: b.Flow, MessageType: b.MessageType, Before: &b})
	}
	for _, hi := range added {
		h := head[hi]
		r.Changes = append(r.Changes, Change{Kind: Added, Function: h.Function, Flow: h.Flow, MessageType: h.MessageType, After: &h})
	}
	sortChanges(r.Changes)
	return r
}

// renames pairs a removed and an added site that are the same send in a
// renamed or moved function, when the pairing is unambiguous.
func (r *Review) renames(base, head []static.Site, removed, added []int) ([]int, []int) {
	alike := func(s static.Site) string {
		return s.Flow + "\x00" + s.MessageType + "\x00" + sendFunc(s) + "\x00" + s.ResendType + "\x00" + verdictOf(s)
	}
	count := map[string]int{}
	for _, bi := range removed {
		count["b"+alike(base[bi])]++
	}
	for _, hi := range added {
		count["h"+alike(head[hi])]++
	}
	paired := map[int]bool{}
	var keptRemoved []int
	for _, bi := range removed {
		k := alike(base[bi])
		if count["b"+k] != 1 || count["h"+k] != 1 {
			keptRemoved = append(keptRemoved, bi)
			continue
		}
		for _, hi := range added {
			if alike(head[hi]) == k {
				b, h := base[bi], head[hi]
				paired[hi] = true
				r.Changes = append(r.Changes, Change{Kind: Renamed, Function: h.Function, Flow: h.Flow, MessageType: h.MessageType, Before: &b, After: &h})
			}
		}
	}
	var keptAdded []int
	for _, hi := range added {
		if !paired[hi] {
			keptAdded = append(keptAdded, hi)
		}
	}
	return keptRemoved, keptAdded
}

// regressed reports whether a site that went through MVDS before the
// change does not after it.
func regressed(before, after static.Site) bool {
	return before.Verdict == static.VerdictMVDS && after.Verdict != static.VerdictMVDS
}

var kindOrder = map[string]int{Changed: 1, Added: 2, Removed: 3, Renamed: 4}

// sortChanges puts regressions first, then changes, additions, removals
// and renames, each in source order.
func sortChanges(cs []Change) {
	pos := func(c Change) string {
		if c.After != nil {
			return c.After.Position
		}
		return c.Before.Position
	}
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Regression != b.Regression {
			return a.Regression
		}
		if a.Kind != b.Kind {
			return kindOrder[a.Kind] < kindOrder[b.Kind]
		}
		return lessPos(pos(a), pos(b))
	})
}

// lessPos orders "file:line:col" by file, then numerically.
func lessPos(a, b string) bool {
	fa, la := splitLine(a)
	fb, lb := splitLine(b)
	if fa != fb {
		return fa < fb
	}
	return la < lb
}

func splitLine(p string) (string, int) {
	parts := strings.Split(p, ":")
	if len(parts) < 3 {
		return p, 0
	}
	n := 0
	for _, c := range parts[len(parts)-2] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return strings.Join(parts[:len(parts)-2], ":"), n
}
