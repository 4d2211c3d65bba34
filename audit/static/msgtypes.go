package static

import (
	"bufio"
	"bytes"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

// status-go renumbered ApplicationMetadataMessage_Type over time (in July
// 2023 COMMUNITY_ADMIN_MESSAGE was 68 and COMMUNITY_EDIT_SHARED_ADDRESSES
// 69; later 68 became COMMUNITY_EDIT_SHARED_ADDRESSES). The core's statusgo
// package numbers types as status-go did in late 2024, and the flow table
// is keyed by those numbers. So the audit reads a constant's number in the
// analysed tree's own numbering, turns it into the proto name, and the name
// into the core's number. The numbering comes from the tree's generated
// Go (when the protobuf package is type-checked), else from its .proto,
// and only as a last resort from the core's table.

// Sources of a numbering, as reports name them.
const (
	typesFromGo      = "generated Go (protocol/protobuf, type-checked)"
	typesFromBuiltin = "built-in table (status-go of late 2024)"
)

// protoFile is where status-go declares the message types.
var protoFile = filepath.Join("protocol", "protobuf", "application_metadata_message.proto")

// extraType offsets the numbers of message types the core does not know
// by name (COMMUNITY_ADMIN_MESSAGE, since renamed): they are never
// critical, and must not collide with a type the core knows.
const extraType = 1 << 16

// typeTable is one tree's numbering.
type typeTable struct {
	source string
	byNum  map[int64]string
	byName map[string]int64
}

// canonical turns the tree's number of a message type into the core's.
func (t *typeTable) canonical(n int64) int64 {
	if t == nil || t.byNum == nil {
		return n
	}
	name, ok := t.byNum[n]
	if !ok {
		return n
	}
	return canonicalName(name, n)
}

// canonicalName turns a proto name into the core's number; a name the
// core does not know keeps the tree's number, out of the core's range.
func canonicalName(name string, treeNum int64) int64 {
	if mt, err := statusgo.ParseMessageType(name); err == nil {
		return int64(mt)
	}
	return extraType + treeNum
}

// known reports whether the tree declares the named type (without its Go
// prefix); a table read from nothing knows every core name.
func (t *typeTable) known(name string) (int64, bool) {
	if t == nil || t.byName == nil {
		return 0, false
	}
	n, ok := t.byName[name]
	return n, ok
}

var (
	goTables    sync.Map // *types.Package → *typeTable
	protoTables sync.Map // .proto path → *typeTable
)

// messageTypes returns the analysed tree's numbering (computed once per
// package).
func (e *engine) messageTypes() *typeTable {
	if e.types == nil {
		e.types = findTypeTable(e)
	}
	return e.types
}

func findTypeTable(e *engine) *typeTable {
	if pb := findPackage(e.pass.Pkg, statusgo.ProtobufPath); pb != nil {
		if t, ok := goTables.Load(pb); ok {
			return t.(*typeTable)
		}
		if t := goTable(pb); t != nil {
			goTables.Store(pb, t)
			return t
		}
	}
	if path := e.findProto(); path != "" {
		if t, ok := protoTables.Load(path); ok {
			return t.(*typeTable)
		}
		if t := readProtoTable(path); t != nil {
			protoTables.Store(path, t)
			return t
		}
	}
	return &typeTable{source: typesFromBuiltin}
}

// findPackage finds the package with the given path among pkg and what it
// imports, transitively.
func findPackage(pkg *types.Package, path string) *types.Package {
	seen := map[*types.Package]bool{}
	queue := []*types.Package{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == nil || seen[p] {
			continue
		}
		seen[p] = true
		if p.Path() == path {
			return p
		}
		queue = append(queue, p.Imports()...)
	}
	return nil
}

// goTable reads the enum's constants from the type-checked protobuf
// package; nil when it declares none (a stand-in for a package that was
// not generated).
func goTable(pb *types.Package) *typeTable {
	t := &typeTable{source: typesFromGo, byNum: map[int64]string{}, byName: map[string]int64{}}
	scope := pb.Scope()
	for _, name := range scope.Names() {
		if !strings.HasPrefix(name, statusgo.MessageTypePrefix) {
			continue
		}
		c, ok := scope.Lookup(name).(*types.Const)
		if !ok || classOf(c.Type()) != CMessageType {
			continue
		}
		n, ok := intConst(c)
		if !ok {
			continue
		}
		proto := strings.TrimPrefix(name, statusgo.MessageTypePrefix)
		t.byNum[n] = proto
		t.byName[proto] = n
	}
	if len(t.byNum) == 0 {
		return nil
	}
	return t
}

func intConst(c *types.Const) (int64, bool) {
	v, err := strconv.ParseInt(c.Val().ExactString(), 10, 64)
	return v, err == nil
}

// findProto looks for the .proto above the package's files.
func (e *engine) findProto() string {
	if len(e.pass.Files) == 0 {
		return ""
	}
	dir := filepath.Dir(e.pass.Fset.Position(e.pass.Files[0].Pos()).Filename)
	for i := 0; i < 8 && dir != "" && dir != "." && dir != string(filepath.Separator); i++ {
		p := filepath.Join(dir, protoFile)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

var protoValue = regexp.MustCompile(`^\s*([A-Z][A-Z0-9_]*)\s*=\s*(\d+)\s*(\[[^\]]*\])?\s*;`)

// readProtoTable reads "enum Type { NAME = n; ... }" of
// application_metadata_message.proto; nil when the file has no such enum.
func readProtoTable(path string) *typeTable {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	t := parseProtoTable(data)
	if t == nil {
		return nil
	}
	t.source = path
	return t
}

func parseProtoTable(data []byte) *typeTable {
	t := &typeTable{byNum: map[int64]string{}, byName: map[string]int64{}}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if !in {
			if len(fields) >= 2 && fields[0] == "enum" && strings.TrimSuffix(fields[1], "{") == "Type" {
				in = true
			}
			continue
		}
		if strings.Contains(line, "}") {
			break
		}
		m := protoValue.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			continue
		}
		t.byNum[n] = m[1]
		t.byName[m[1]] = n
	}
	if len(t.byNum) == 0 {
		return nil
	}
	return t
}
