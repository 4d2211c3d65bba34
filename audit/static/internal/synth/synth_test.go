package synth_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mvdsguard/mvdsguard/audit/static/internal/synth"
)

func small() synth.Options {
	return synth.Options{Packages: 4, FilesPerPackage: 2, FuncsPerFile: 12, UtilityEvery: 4}
}

func TestTheTreeCompilesAndIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	st, err := synth.Write(a, small())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Write(b, small()); err != nil {
		t.Fatal(err)
	}
	if st.Packages != 4 || st.Files != 2*4+5 || st.Lines < 500 {
		t.Fatalf("stats %+v", st)
	}
	for _, rel := range []string{"protocol/feature001/file1.go", "protocol/forward/forward.go"} {
		x, _ := os.ReadFile(filepath.Join(a, rel))
		y, _ := os.ReadFile(filepath.Join(b, rel))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Fatalf("%s differs between two writes", rel)
		}
	}
	if testing.Short() {
		return
	}
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = a
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the generated tree does not pass go vet: %v\n%s", err, out)
	}
}

func TestItRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Write(dir, small()); err == nil {
		t.Fatal("wrote into a non-empty directory")
	}
	if _, err := synth.Write(t.TempDir(), synth.Options{}); err == nil {
		t.Fatal("accepted zero sizes")
	}
}
