package benchdoc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSectionIsReplacedAndTheRestKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.md")
	orig := "# B\n\nintro\n\n<!-- a:begin -->\nold a\n<!-- a:end -->\n\n<!-- w:begin -->\nold w\n<!-- w:end -->\ntail\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "w", "", "new w"); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(orig, "old w\n", "new w\n", 1)
	if got := read(t, path); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestMissingSectionGoesBeforeTheNamedOneOrAtTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.md")
	if err := os.WriteFile(path, []byte("# B\n\n<!-- a:begin -->\na\n<!-- a:end -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "w", "a", "w1\n"); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "z", "nosuch", "z1\n"); err != nil {
		t.Fatal(err)
	}
	want := "# B\n\n<!-- w:begin -->\nw1\n<!-- w:end -->\n\n<!-- a:begin -->\na\n<!-- a:end -->\n\n<!-- z:begin -->\nz1\n<!-- z:end -->\n"
	if got := read(t, path); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestMissingFileIsCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.md")
	if err := WriteSection(path, "w", "", "x\n"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != "# Benchmarks\n\n<!-- w:begin -->\nx\n<!-- w:end -->\n" {
		t.Errorf("got %q", got)
	}
}

func TestBrokenSectionIsRefusedAndLeftAlone(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"only begin":   "<!-- w:begin -->\nx\n",
		"only end":     "x\n<!-- w:end -->\n",
		"out of order": "<!-- w:end -->\nx\n<!-- w:begin -->\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".md")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		err := WriteSection(path, "w", "", "new\n")
		if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err %v, want one naming the file and the broken section", name, err)
		}
		if got := read(t, path); got != body {
			t.Errorf("%s: file changed to %q", name, got)
		}
	}
	if err := WriteSection(filepath.Join(dir, "x.md"), "two words", "", "x"); err == nil {
		t.Error("a section name with a space was accepted")
	}
}
