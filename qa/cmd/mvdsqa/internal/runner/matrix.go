package runner

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteMatrix writes the results side by side as a Markdown table: a row
// per expectation of each scenario (and one for a run that stopped with an
// error), a column per variant in the order first seen — for `mvdsqa run
// -variant all`: the reference node stock, guarded, and status-go. A cell
// says whether the expectation was met, what was measured, or "n/a" when
// the variant cannot express it.
func WriteMatrix(w io.Writer, rs []*Result) error {
	var variants, files []string
	byFile := map[string]map[string]*Result{}
	for _, r := range rs {
		if byFile[r.File] == nil {
			byFile[r.File] = map[string]*Result{}
			files = append(files, r.File)
		}
		byFile[r.File][r.Variant] = r
		if !contains(variants, r.Variant) {
			variants = append(variants, r.Variant)
		}
	}
	var b strings.Builder
	b.WriteString("| scenario | expectation |")
	for _, v := range variants {
		fmt.Fprintf(&b, " %s |", v)
	}
	b.WriteString("\n|---|---|")
	for range variants {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, f := range files {
		runs := byFile[f]
		var first *Result
		for _, v := range variants {
			if runs[v] != nil {
				first = runs[v]
				break
			}
		}
		// Expectations in file order, from whichever run has them.
		var lines []ExpectResult
		for _, v := range variants {
			if r := runs[v]; r != nil && len(r.Expectations) > len(lines) {
				lines = r.Expectations
			}
		}
		errRow := false
		for _, v := range variants {
			errRow = errRow || (runs[v] != nil && runs[v].Error != "")
		}
		if errRow {
			fmt.Fprintf(&b, "| %s | (run) |", cell(first.Scenario))
			for _, v := range variants {
				switch r := runs[v]; {
				case r == nil:
					b.WriteString(" — |")
				case r.Error != "":
					fmt.Fprintf(&b, " error: %s |", cell(clipped(r.Error, 200)))
				default:
					b.WriteString(" ran |")
				}
			}
			b.WriteString("\n")
		}
		for _, x := range lines {
			fmt.Fprintf(&b, "| %s | %s (line %d) |", cell(first.Scenario), cell(x.Text), x.Line)
			for _, v := range variants {
				b.WriteString(" " + cell(matrixCell(runs[v], x.Line)) + " |")
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func matrixCell(r *Result, line int) string {
	if r == nil {
		return "—"
	}
	for _, x := range r.Expectations {
		if x.Line != line {
			continue
		}
		switch {
		case x.CannotExpress:
			return "n/a"
		case x.Passed:
			return "met: " + x.Measured
		default:
			return "FAIL: " + x.Measured
		}
	}
	if r.Error != "" {
		return "not run"
	}
	return "—"
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}

// clipped shortens s to n bytes, on a rune boundary, marking the cut.
func clipped(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
