package logfiles_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/dynamic/logfiles"
)

func TestANodeIsNamedAfterItsFileWithoutRotationOrCompression(t *testing.T) {
	for rel, want := range map[string]string{
		"alice.log":                              "alice",
		"alice.log.1":                            "alice",
		"alice.log.12.gz":                        "alice",
		"alice.jsonl.gz":                         "alice",
		"run/bob/geth.log":                       "run/bob/geth",
		"geth-2024-10-23T14-00-00.000.log":       "geth",
		"status_20240703.txt":                    "status",
		"node-007.out":                           "node-007",
		"./carol.log":                            "carol",
		".log":                                   ".log",
		"node.2024.log":                          "node.2024",
		"deep/er/still/dave.log.3":               "deep/er/still/dave",
		"no-extension":                           "no-extension",
		"weird name with spaces.log":             "weird name with spaces",
		"alice-1-2024-10-23T14-00-00.000.log.gz": "alice-1",
	} {
		if got := logfiles.NodeName(rel); got != want {
			t.Errorf("NodeName(%q) = %q, want %q", rel, got, want)
		}
	}
}

func write(t *testing.T, path string, data []byte, modified time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, modified, modified); err != nil {
		t.Fatal(err)
	}
}

func TestFindGroupsRotatedFilesOldestFirstAndKeepsSameNamesInTwoPlacesApart(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	write(t, filepath.Join(dir, "a", "geth.log"), []byte("x\n"), t0.Add(3*time.Hour))
	write(t, filepath.Join(dir, "a", "geth.log.1"), []byte("x\n"), t0.Add(2*time.Hour))
	write(t, filepath.Join(dir, "a", "geth.log.2.gz"), []byte("x\n"), t0.Add(time.Hour))
	write(t, filepath.Join(dir, "b", "geth.log"), []byte("x\n"), t0)
	write(t, filepath.Join(dir, "b", "db.sqlite"), []byte("x"), t0)
	write(t, filepath.Join(dir, ".git", "x.log"), []byte("x\n"), t0)

	found := logfiles.Find([]string{filepath.Join(dir, "a", "geth.log"), filepath.Join(dir, "a", "geth.log.1"), filepath.Join(dir, "a", "geth.log.2.gz"), filepath.Join(dir, "b", "geth.log")}, logfiles.Naming{})
	if len(found.Nodes) != 2 || found.Nodes[0].Name != "a/geth" || found.Nodes[1].Name != "b/geth" || len(found.Problems) != 0 {
		t.Fatalf("%+v", found)
	}
	var order []string
	for _, f := range found.Nodes[0].Files {
		order = append(order, filepath.Base(f.Path))
	}
	if strings.Join(order, " ") != "geth.log.2.gz geth.log.1 geth.log" {
		t.Fatalf("order %v", order)
	}
	// The directory itself: its subdirectories name the nodes, hidden ones
	// and files that are no log are left out, and a path given twice
	// counts once.
	found = logfiles.Find([]string{dir, filepath.Join(dir, "b", "geth.log")}, logfiles.Naming{})
	if len(found.Nodes) != 2 || found.Nodes[0].Name != "a/geth" || len(found.Nodes[0].Files) != 3 || len(found.Skipped) != 1 || !strings.HasSuffix(found.Skipped[0], "db.sqlite") {
		t.Fatalf("%+v", found)
	}
	found = logfiles.Find([]string{dir}, logfiles.Naming{Pattern: regexp.MustCompile(`^(?P<node>[^/]+)/`)})
	if len(found.Nodes) != 2 || found.Nodes[0].Name != "a" || found.Nodes[1].Name != "b" {
		t.Fatalf("%+v", found.Nodes)
	}
}

func TestOpenReadsGzipByItsBytesWhateverItsName(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("hello\n"))
	zw.Close()
	for _, name := range []string{"a.log.gz", "a.log.1"} {
		p := filepath.Join(dir, name)
		write(t, p, gz.Bytes(), time.Now())
		r, err := logfiles.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(b) != "hello\n" {
			t.Fatalf("%s: %q %v", name, b, err)
		}
	}
	if _, err := logfiles.Open(filepath.Join(dir, "missing.log")); err == nil || !strings.Contains(err.Error(), "missing.log: no such file") {
		t.Fatal(err)
	}
}

func FuzzNodeName(f *testing.F) {
	for _, s := range []string{"alice.log", "run/bob/geth.log.2.gz", "geth-2024-10-23T14-00-00.000.log", ".log", "a/.gz", "../x.log", "/abs/y.log.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		name := logfiles.NodeName(rel)
		if name == "" || strings.HasSuffix(name, "/") && name != "/" {
			t.Fatalf("NodeName(%q) = %q", rel, name)
		}
		// Rotated and compressed copies are the same node.
		if rel != "" && !strings.HasSuffix(rel, "/") && logfiles.NodeName(rel+".log.1.gz") != logfiles.NodeName(rel+".log") {
			t.Fatalf("%q: rotated copy named %q, the log %q", rel, logfiles.NodeName(rel+".log.1.gz"), logfiles.NodeName(rel+".log"))
		}
	})
}
