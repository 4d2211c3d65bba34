package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: whatever bytes a scenario file holds, Parse returns a
// scenario whose references all resolve, or errors that each name the file
// — never a panic. Seeds: the QA suite and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(suiteDir, "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(suiteDir, "*", "*.yaml"))
	for _, file := range append(files, more...) {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(valid))
	f.Add([]byte(validKernel))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse("fuzz.yaml", b)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml:") {
					t.Fatalf("error line without the file name: %q", line)
				}
			}
			return
		}
		nodes := map[string]bool{}
		for _, n := range s.Nodes {
			nodes[n.Name] = true
		}
		var check func([]Step)
		check = func(steps []Step) {
			for _, st := range steps {
				if st.Node != "" && !nodes[st.Node] {
					t.Fatalf("step at line %d names unknown node %q", st.Line, st.Node)
				}
				if st.Send != nil && (!nodes[st.Send.From] || (st.Send.To != "" && !nodes[st.Send.To])) {
					t.Fatalf("send at line %d names an unknown node", st.Line)
				}
				check(st.Parallel)
			}
		}
		check(s.Steps)
		if s.Name == "" || len(s.Nodes) == 0 {
			t.Fatalf("accepted a scenario without name or nodes")
		}
	})
}
