package static

import (
	"testing"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/packages"

	"github.com/mvdsguard/mvdsguard/audit/config"
)

// The interpreter must survive any Go it meets. Real code bases have
// constructs the fixtures do not; this runs it over every function of a few
// large standard packages, as if each one mentioned a RawMessage.
func TestTheInterpreterSurvivesLargeRealPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks several standard packages")
	}
	cfg := &packages.Config{Mode: packages.LoadSyntax}
	pkgs, err := packages.Load(cfg, "go/types", "net/http", "encoding/json", "text/template/parse")
	if err != nil {
		t.Fatal(err)
	}
	interpreted := 0
	for _, p := range pkgs {
		pass := &analysis.Pass{Fset: p.Fset, Files: p.Syntax, Pkg: p.Types, TypesInfo: p.TypesInfo,
			AllObjectFacts: func() []analysis.ObjectFact { return nil }}
		e := newEngine(pass, config.DefaultStatic())
		e.interesting = map[*fnDecl]bool{}
		for _, fd := range e.decls {
			e.interesting[fd] = true
		}
		for _, fd := range e.decls {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s: %s: panic: %v", p.PkgPath, fd.name, r)
					}
				}()
				e.summary(fd)
				interpreted++
			}()
		}
		e.sites.build(e)
	}
	if interpreted < 1000 {
		t.Fatalf("interpreted %d functions; want the bulk of four large packages", interpreted)
	}
}
