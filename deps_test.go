package mvdsguard_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// linkedByStatusGo are the core's packages an application with its own
// database (status-go) imports. Package sqlitedb is the one exception by
// design: it opens files with go-sqlite3, for applications without a
// database of their own.
var linkedByStatusGo = []string{
	"github.com/mvdsguard/mvdsguard",
	"github.com/mvdsguard/mvdsguard/mvds",
	"github.com/mvdsguard/mvdsguard/mvds/memtransport",
	"github.com/mvdsguard/mvdsguard/mvds/wire",
	"github.com/mvdsguard/mvdsguard/retry",
	"github.com/mvdsguard/mvdsguard/statusgo",
}

// forbiddenPackages may not be linked into status-go through the core: a
// second SQLite amalgamation next to SQLCipher fails to link, and go-waku or
// libp2p at our versions would raise status-go's own.
var forbiddenPackages = []string{
	"github.com/mattn/go-sqlite3",
	"github.com/mutecomm/go-sqlcipher",
	"modernc.org/sqlite",
	"github.com/waku-org/",
	"github.com/libp2p/",
	"golang.org/x/tools/",
	"go.yaml.in/yaml",
	"gopkg.in/yaml",
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	return goListFor(t, "", args...)
}

// goListFor runs the go command for goos ("" for this machine's).
func goListFor(t *testing.T, goos string, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if goos != "" {
		cmd.Env = append(cmd.Env, "GOOS="+goos, "GOARCH=arm64", "CGO_ENABLED=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestWhatStatusGoLinksHoldsNoSQLiteDriverNorWaku(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	for _, goos := range []string{"linux", "darwin", "windows", "android", "ios"} {
		deps := goListFor(t, goos, append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, linkedByStatusGo...)...)
		for _, d := range deps {
			for _, f := range forbiddenPackages {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s: %s is linked by the core's packages (forbidden: %s)", goos, d, f)
				}
			}
		}
	}
	// The exception proves the check can fail.
	deps := goList(t, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/mvdsguard/mvdsguard/sqlitedb")
	if !contains(deps, "github.com/mattn/go-sqlite3") {
		t.Errorf("package sqlitedb does not link go-sqlite3; the check above would not see a driver")
	}
}

// TestModuleGraphHoldsNoWakuLibp2pToolsOrOurYAML looks at every module the
// core's go.mod brings into a consumer's graph, tests included. YAML
// libraries that zap and prometheus require for their own tests
// (gopkg.in/yaml.v2, gopkg.in/yaml.v3) are status-go's too and allowed.
func TestModuleGraphHoldsNoWakuLibp2pToolsOrOurYAML(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	for _, edge := range goList(t, "mod", "graph") {
		for _, m := range strings.Fields(edge) {
			for _, f := range []string{"github.com/waku-org/", "github.com/libp2p/", "golang.org/x/tools@", "go.yaml.in/yaml"} {
				if strings.HasPrefix(m, f) {
					t.Errorf("module graph edge %q brings in %s", edge, m)
				}
			}
		}
	}
}

func TestGoLineIsStatusGos(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var goLine string
	for _, l := range strings.Split(string(mod), "\n") {
		if strings.HasPrefix(l, "go ") {
			goLine = strings.TrimSpace(strings.TrimPrefix(l, "go "))
		}
		if strings.HasPrefix(l, "toolchain ") {
			t.Errorf("go.mod names a toolchain (%s): status-go's own toolchain line must decide", l)
		}
	}
	if goLine != "1.21" {
		t.Errorf("go.mod says go %s; want 1.21, status-go's go line", goLine)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
