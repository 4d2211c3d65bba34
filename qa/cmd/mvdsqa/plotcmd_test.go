package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlotRedrawsFromKeptNumbers: `mvdsqa plot -redraw` draws both charts
// and rewrites its own section of the benchmarks page from numbers written
// earlier, leaving the rest of the page as it was.
func TestPlotRedrawsFromKeptNumbers(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "plots.json")
	if err := os.WriteFile(data, []byte(`{"messages": 10, "seed": 1, "queued": 4, "disconnectNs": 30000000000, "withinNs": 2000000000,
 "outages": [{"offlineNs": 60000000000, "epochs": [130, 61], "dropped": [0, 0]}, {"offlineNs": 1209600000000000, "epochs": [-1, 62], "dropped": [10, 0]}],
 "delays": [[0.5, 30, 61], [0.25, 0.25, 0.25, 0.25]], "offlineAttempts": [12, 0], "machine": "a test"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "benchmarks.md")
	other := "<!-- waku:begin -->\nwaku numbers\n<!-- waku:end -->\n\n<!-- runtime:begin -->\nruntime numbers\n<!-- runtime:end -->\n"
	if err := os.WriteFile(doc, []byte("# Benchmarks\n\n"+other), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"plot", "-dir", img, "-redraw", data, "-doc", doc}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, f := range []string{outagePlot, disconnectPlot} {
		b, err := os.ReadFile(filepath.Join(img, f))
		if err != nil || !bytes.HasPrefix(b, []byte("<svg ")) {
			t.Errorf("%s: %v %.40q", f, err, b)
		}
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"waku numbers", "runtime numbers", "](img/outage-matrix.svg)", "](img/waku-disconnect.svg)",
		"39.0 s stock vs 18.3 s guarded after 1 minute offline (0.47×)", "all 10 dropped silently",
		"the stock node counted 12 attempts while offline and had 1 of 4 acknowledged within 2s", ", 1 never",
		"the Guard counted 0 attempts while offline and had 4 of 4 acknowledged within 2s", "Machine: a test."} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if i, j := strings.Index(page, "<!-- plots:begin -->"), strings.Index(page, "<!-- runtime:begin -->"); i < 0 || i > j {
		t.Errorf("the plots section is not before the runtime section:\n%s", page)
	}
}

func TestPlotRefusesNumbersItDidNotWrite(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "results.json")
	if err := os.WriteFile(data, []byte(`[{"scenario": "not plot data"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"plot", "-dir", dir, "-redraw", data}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), data) {
		t.Errorf("exit %d, %q; want 2 naming %s", code, errOut.String(), data)
	}
}

// TestReportDrawsSavedResults: `mvdsqa report` turns results saved with
// -json into the HTML report, and refuses a file that holds none.
func TestReportDrawsSavedResults(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "qa.html")
	var out, errOut bytes.Buffer
	if code := run([]string{"report", "-html", page, "internal/runner/testdata/suite-results.json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `<section class="scenario"`); n != 8 {
		t.Errorf("%d scenario sections; want the suite's 8", n)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"scenario": "an object, not a list"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if code := run([]string{"report", "-html", page, bad}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), bad) {
		t.Errorf("exit %d, %q; want 2 naming %s", code, errOut.String(), bad)
	}
}
