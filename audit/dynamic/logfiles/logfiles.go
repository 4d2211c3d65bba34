// Package logfiles finds the logs of a test run and reads them into a
// dynamic.Fleet in parallel: files, directories (recursively), globs and
// gzip-compressed files; one node per log, named after its file (or by
// -node or a pattern), with a node's rotated files read as one log, oldest
// first.
//
// It knows file systems and file names; what the lines say is
// audit/dynamic's business.
package logfiles

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/dynamic"
)

// File is one log file.
type File struct {
	Path     string
	Size     int64
	Modified time.Time
}

// Node is the log of one node: its files, oldest first.
type Node struct {
	Name  string
	Files []File
}

// Naming says how files are named as nodes. The zero value names each
// file after its path.
type Naming struct {
	// Node, when set, is the one node every file belongs to.
	Node string
	// Pattern, when set, finds the node in a file's path (slash-separated,
	// as given or found below a directory): its group named "node", else
	// its first group, else the whole match. Files it does not match are
	// named as without it.
	Pattern *regexp.Regexp
}

// Problem is an input that cannot be used, and why.
type Problem struct {
	Path string
	Err  error
}

func (p Problem) Error() string { return p.Err.Error() }

// Found is what Find found.
type Found struct {
	Nodes []Node
	// Skipped lists files below directories whose names are not a log's
	// (databases, keys, images), SkippedMore counts the ones not listed.
	Skipped     []string
	SkippedMore int
	Problems    []Problem
}

// maxListed bounds the skipped files Found lists.
const maxListed = 20

// Find resolves paths — files, directories searched recursively for log
// files, and globs — into nodes. A path that does not exist, a glob that
// matches nothing and a directory without a single log file are
// Problems; the other paths still count.
func Find(paths []string, naming Naming) Found {
	var found Found
	// Files are grouped by name within one place (a directory given, or
	// the directory of a file given): the same name in two places is two
	// nodes, told apart by the place's name.
	type group struct {
		node      Node
		qualifier string
	}
	var groups []*group
	byKey := map[string]*group{}
	seen := map[string]bool{}
	addFile := func(path, rel, place string, info fs.FileInfo) {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		if seen[abs] {
			return
		}
		seen[abs] = true
		name := naming.name(rel)
		key := name
		if naming.Node == "" && naming.Pattern == nil {
			key = place + "\x00" + name
		}
		g := byKey[key]
		if g == nil {
			g = &group{node: Node{Name: name}, qualifier: filepath.Base(place)}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.node.Files = append(g.node.Files, File{Path: path, Size: info.Size(), Modified: info.ModTime()})
	}
	for _, arg := range paths {
		matches := []string{arg}
		if _, err := os.Lstat(arg); err != nil && strings.ContainsAny(arg, "*?[") {
			m, gerr := filepath.Glob(arg)
			switch {
			case gerr != nil:
				found.Problems = append(found.Problems, Problem{arg, fmt.Errorf("%s: bad glob: %w", arg, gerr)})
				continue
			case len(m) == 0:
				found.Problems = append(found.Problems, Problem{arg, fmt.Errorf("%s: the glob matches no file", arg)})
				continue
			}
			matches = m
		}
		for _, path := range matches {
			info, err := os.Stat(path)
			if err != nil {
				found.Problems = append(found.Problems, Problem{path, fmt.Errorf("%s: %w", path, unwrapPath(err))})
				continue
			}
			if !info.IsDir() {
				dir, _ := filepath.Abs(filepath.Dir(path))
				addFile(path, filepath.Base(path), dir, info)
				continue
			}
			root, _ := filepath.Abs(path)
			n, problems := found.walk(path, func(p, rel string, info fs.FileInfo) { addFile(p, rel, root, info) })
			found.Problems = append(found.Problems, problems...)
			if n == 0 && len(problems) == 0 {
				found.Problems = append(found.Problems, Problem{path, fmt.Errorf("%s: no log files in the directory (looked for *.log, *.jsonl, *.txt, *.out, rotated and .gz ones)", path)})
			}
		}
	}
	count := map[string]int{}
	for _, g := range groups {
		count[g.node.Name]++
	}
	for _, g := range groups {
		if count[g.node.Name] > 1 {
			g.node.Name = g.qualifier + "/" + g.node.Name
		}
		sortFiles(g.node.Files)
		found.Nodes = append(found.Nodes, g.node)
	}
	sort.Slice(found.Nodes, func(i, j int) bool { return found.Nodes[i].Name < found.Nodes[j].Name })
	return found
}

// unwrapPath drops the *PathError's own path and operation, which the
// caller's message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// walk adds the log files below dir and returns how many.
func (found *Found) walk(dir string, add func(path, rel string, info fs.FileInfo)) (int, []Problem) {
	n := 0
	var problems []Problem
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			problems = append(problems, Problem{path, fmt.Errorf("%s: %w", path, unwrapPath(err))})
			if d != nil && d.IsDir() && path != dir {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if !isLogName(d.Name()) {
			if len(found.Skipped) < maxListed {
				found.Skipped = append(found.Skipped, path)
			} else {
				found.SkippedMore++
			}
			return nil
		}
		info, err := os.Stat(path)
		if err != nil {
			problems = append(problems, Problem{path, fmt.Errorf("%s: %w", path, unwrapPath(err))})
			return nil
		}
		if info.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			rel = path
		}
		add(path, filepath.ToSlash(rel), info)
		n++
		return nil
	})
	if err != nil {
		problems = append(problems, Problem{dir, fmt.Errorf("%s: %w", dir, err)})
	}
	return n, problems
}

// Suffixes a log file's name may carry: compression, rotation, extension.
var (
	rotation   = regexp.MustCompile(`\.\d{1,4}$`)
	stamp      = regexp.MustCompile(`[-_.]\d{4}-?\d{2}-?\d{2}([T_-]?\d{2}[-:]?\d{2}([-:]?\d{2}(\.\d{1,9})?)?)?$`)
	extensions = []string{".log", ".jsonl", ".txt", ".out"}
)

// isLogName reports whether a file below a directory is read: a log's
// extension, perhaps rotated and compressed.
func isLogName(base string) bool {
	b := strings.TrimSuffix(base, ".gz")
	b = rotation.ReplaceAllString(b, "")
	for _, ext := range extensions {
		if strings.HasSuffix(b, ext) {
			return true
		}
	}
	return false
}

// NodeName is the node a log file's path names without a pattern: the path
// without its compression, rotation and timestamp suffixes and extension
// ("run/alice/geth.log.2.gz" below "run" is "alice/geth"; "bob.log" is
// "bob").
func NodeName(rel string) string {
	dir, base := path.Split(path.Clean(filepath.ToSlash(rel)))
	base = strings.TrimSuffix(base, ".gz")
	base = rotation.ReplaceAllString(base, "")
	for _, ext := range extensions {
		if strings.HasSuffix(base, ext) {
			base = strings.TrimSuffix(base, ext)
			break
		}
	}
	if s := stamp.ReplaceAllString(base, ""); s != "" {
		base = s
	}
	if base == "" {
		base = filepath.Base(rel)
	}
	dir = strings.TrimPrefix(strings.TrimSuffix(dir, "/"), "./")
	if dir == "" || strings.HasPrefix(dir, "/") || strings.HasPrefix(dir, "../") || dir == ".." {
		return base
	}
	return dir + "/" + base
}

func (n Naming) name(rel string) string {
	if n.Node != "" {
		return n.Node
	}
	if n.Pattern != nil {
		if m := n.Pattern.FindStringSubmatch(rel); m != nil {
			if i := n.Pattern.SubexpIndex("node"); i > 0 && m[i] != "" {
				return m[i]
			}
			if len(m) > 1 && m[1] != "" {
				return m[1]
			}
			return m[0]
		}
	}
	return NodeName(rel)
}

// sortFiles orders a node's files oldest first: by modification time (a
// rotated file is no longer written to), then rotated numbers highest first.
func sortFiles(files []File) {
	rank := func(f File) int {
		b := strings.TrimSuffix(filepath.Base(f.Path), ".gz")
		if m := rotation.FindString(b); m != "" {
			n := 0
			fmt.Sscanf(m[1:], "%d", &n)
			return n
		}
		return 0
	}
	sort.SliceStable(files, func(i, j int) bool {
		if !files[i].Modified.Equal(files[j].Modified) {
			return files[i].Modified.Before(files[j].Modified)
		}
		return rank(files[i]) > rank(files[j])
	})
}

// Open opens a log file, decompressing it when it is gzip (by its first
// bytes, whatever its name).
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(2)
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a readable gzip file: %w", path, err)
		}
		return &gzipFile{zr: zr, f: f}, nil
	}
	return &plainFile{r: br, f: f}, nil
}

type plainFile struct {
	r *bufio.Reader
	f *os.File
}

func (p *plainFile) Read(b []byte) (int, error) { return p.r.Read(b) }
func (p *plainFile) Close() error               { return p.f.Close() }

type gzipFile struct {
	zr *gzip.Reader
	f  *os.File
}

func (g *gzipFile) Read(b []byte) (int, error) { return g.zr.Read(b) }
func (g *gzipFile) Close() error {
	g.zr.Close()
	return g.f.Close()
}

// ReadOptions set how ReadAll reads.
type ReadOptions struct {
	// Workers is how many files are read at once (one node's files are
	// always read in turn); 0 means GOMAXPROCS.
	Workers int
	// Year, when set, is the year of geth timestamps in every file, with
	// YearFrom saying where it came from.
	Year     int
	YearFrom string
}

// ReadAll reads every node into fleet, nodes in parallel, and returns the
// inputs that could not be used: a file that cannot be opened or read, an
// empty one, one without a single line the audit reads. Each is also listed
// in the fleet's report; the other inputs still count.
func ReadAll(ctx context.Context, fleet *dynamic.Fleet, nodes []Node, opt ReadOptions) []Problem {
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// The biggest nodes first, so that the last one to finish is small.
	order := make([]int, len(nodes))
	sizes := make([]int64, len(nodes))
	for i, n := range nodes {
		order[i] = i
		for _, f := range n.Files {
			sizes[i] += f.Size
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })
	work := make(chan Node)
	var mu sync.Mutex
	var problems []Problem
	var wg sync.WaitGroup
	for w := 0; w < min(workers, len(nodes)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				for _, f := range n.Files {
					if err := readFile(ctx, fleet, n.Name, f, opt); err != nil {
						mu.Lock()
						problems = append(problems, Problem{f.Path, err})
						mu.Unlock()
					}
				}
			}
		}()
	}
	for _, i := range order {
		if ctx.Err() != nil {
			break
		}
		work <- nodes[i]
	}
	close(work)
	wg.Wait()
	sort.Slice(problems, func(i, j int) bool { return problems[i].Path < problems[j].Path })
	return problems
}

func readFile(ctx context.Context, fleet *dynamic.Fleet, node string, f File, opt ReadOptions) error {
	in, err := Open(f.Path)
	if err != nil {
		fleet.AddInput(&dynamic.InputStats{Name: f.Path, Node: node, Err: err.Error()})
		return err
	}
	defer in.Close()
	st, err := fleet.Read(ctx, in, dynamic.Input{Name: f.Path, Node: node, Year: opt.Year, YearFrom: opt.YearFrom, Modified: f.Modified})
	switch {
	case err != nil:
		return err
	case st.Lines == 0:
		return fmt.Errorf("%s is empty: nothing to audit", f.Path)
	case st.Understood() == 0:
		return fmt.Errorf("none of the %d lines of %s is a status-go log line or a runtime record (see the samples in the report)", st.Lines, f.Path)
	}
	return nil
}
