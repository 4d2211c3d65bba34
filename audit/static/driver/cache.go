package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The result cache lets a run whose inputs have not changed since the last
// run with the same arguments skip parsing, type-checking and analysis, as
// go vet skips packages whose inputs it has seen. The key covers everything
// the result depends on: the caller's key (the tool's build and its
// configuration), the arguments, what `go list` said about every package,
// and the bytes of every file the audit would read. One entry is kept per
// directory and argument list, so the cache does not grow with edits.

// cacheEntry is what one cached run stores.
type cacheEntry struct {
	Key      string
	Packages []*Package
	Matched  int
	Relevant int
	Errors   []LoadError
}

// cacheKey hashes the inputs of a run. It reads every file the audit would
// parse; a file that cannot be read makes the run uncacheable.
func cacheKey(extra string, patterns []string, opts Options, pkgs []*listed, units map[string]*unit) (string, bool) {
	h := sha256.New()
	fmt.Fprintf(h, "mvdsaudit-cache-v1\x00%s\x00%s\x00%v\x00%s\x00", extra, opts.Dir, opts.Tests, strings.Join(patterns, "\x00"))
	for _, p := range pkgs {
		// The listing decides which packages are checked and how their
		// imports resolve.
		data, err := json.Marshal(p)
		if err != nil {
			return "", false
		}
		h.Write(data)
	}
	paths := make([]string, 0, len(units))
	for path := range units {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		u := units[path]
		for _, name := range unitFiles(u, opts.Tests) {
			f, err := os.Open(filepath.Join(u.list.Dir, name))
			if err != nil {
				return "", false
			}
			fmt.Fprintf(h, "\x00%s/%s\x00", path, name)
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", false
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// unitFiles lists the files of a unit the audit parses.
func unitFiles(u *unit, tests bool) []string {
	names := append(append([]string(nil), u.list.GoFiles...), u.list.CgoFiles...)
	if tests && u.xtest == "" {
		names = append(names, u.list.TestGoFiles...)
	}
	return names
}

func cacheFile(dir string, patterns []string, opts Options) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%v\x00%s", opts.Dir, opts.Tests, strings.Join(patterns, "\x00"))))
	return filepath.Join(dir, hex.EncodeToString(sum[:12])+".json")
}

// loadCached returns the cached result for key, if there is one.
func loadCached(path, key string) (*cacheEntry, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if err := json.Unmarshal(data, &e); err != nil || e.Key != key {
		return nil, false
	}
	for _, p := range e.Packages {
		if p.Result == nil {
			return nil, false
		}
	}
	return &e, true
}

// storeCached writes an entry atomically; a failure only costs the next
// run its shortcut.
func storeCached(path string, e *cacheEntry) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	data, err := json.Marshal(e)
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".entry-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
	}
}
