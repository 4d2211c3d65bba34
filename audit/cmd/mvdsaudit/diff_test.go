package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The pull requests of fixtures/auditdiff, applied to the tree of their
// generation: each must give exactly the changes its README promises.

var auditdiff = filepath.Join("..", "..", "..", "fixtures", "auditdiff")

type diffChange struct {
	Kind        string `json:"kind"`
	Regression  bool   `json:"regression"`
	Function    string `json:"function"`
	Flow        string `json:"flow"`
	MessageType string `json:"messageType"`
	Before      *struct {
		Verdict   string `json:"verdict"`
		Mechanism string `json:"mechanism"`
	} `json:"before"`
	After *struct {
		Verdict   string `json:"verdict"`
		Mechanism string `json:"mechanism"`
	} `json:"after"`
}

type diffReport struct {
	Tool        string       `json:"tool"`
	Regressions int          `json:"regressions"`
	Changes     []diffChange `json:"changes"`
	Unchanged   int          `json:"unchanged"`
}

// copyTree copies the regular files under src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=audit", "-c", "user.email=audit@example.org"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// pullRequest makes a git repository whose HEAD is the base tree and whose
// working tree has the change applied.
func pullRequest(t *testing.T, base, change string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed to check out a base ref: %v", err)
	}
	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "..", "fixtures", base), dir)
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "base")
	copyTree(t, filepath.Join(auditdiff, change), dir)
	return dir
}

func runDiffJSON(t *testing.T, args ...string) (int, diffReport, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := runDiff(append([]string{"-cache=false", "-format", "json"}, args...), &stdout, &stderr)
	var r diffReport
	if code != exitFailure {
		if err := json.Unmarshal([]byte(stdout.String()), &r); err != nil {
			t.Fatalf("diff output is not JSON: %v\n%s", err, stdout.String())
		}
	}
	return code, r, stderr.String()
}

func TestDiffReportsExactlyWhatEachPullRequestChanges(t *testing.T) {
	type want struct {
		kind, function, flow, messageType, before, after string
		regression                                       bool
	}
	cases := []struct {
		base, change string
		code         int
		want         []want
	}{
		{"statusgo-2024", "resendtype/join-mvds", exitClean, []want{
			{"changed", "Messenger.acceptRequestToJoinCommunity", "join_request", "COMMUNITY_REQUEST_TO_JOIN_RESPONSE", "conditional", "mvds", false}}},
		{"statusgo-2024", "resendtype/group-regression", exitFindings, []want{
			{"changed", "Messenger.sendPinMessage", "private_group", "PIN_MESSAGE", "mvds", "not_mvds none", true}}},
		{"statusgo-2024", "resendtype/refactor", exitClean, nil},
		{"statusgo-2023", "resendautomatically/join-mvds", exitClean, []want{
			{"changed", "Messenger.acceptRequestToJoinCommunity", "join_request", "COMMUNITY_REQUEST_TO_JOIN_RESPONSE", "not_mvds none", "mvds", false}}},
		{"statusgo-2023", "resendautomatically/group-regression", exitFindings, []want{
			{"changed", "Messenger.addMembersToGroupChat", "private_group", "MEMBERSHIP_UPDATE_MESSAGE", "mvds", "not_mvds none", true}}},
		{"statusgo-2023", "resendautomatically/refactor", exitClean, nil},
	}
	for _, tc := range cases {
		t.Run(tc.change, func(t *testing.T) {
			dir := pullRequest(t, tc.base, tc.change)
			code, r, stderr := runDiffJSON(t, "-base", "HEAD", "-C", dir, "./...")
			if code != tc.code {
				t.Fatalf("exit code %d; want %d\n%s", code, tc.code, stderr)
			}
			var got []want
			for _, c := range r.Changes {
				w := want{kind: c.Kind, function: c.Function, flow: c.Flow, messageType: c.MessageType, regression: c.Regression}
				if c.Before != nil {
					w.before = strings.TrimSpace(c.Before.Verdict + " " + c.Before.Mechanism)
				}
				if c.After != nil {
					w.after = strings.TrimSpace(c.After.Verdict + " " + c.After.Mechanism)
				}
				got = append(got, w)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("changes = %+v; want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("change %d = %+v; want %+v", i, got[i], tc.want[i])
				}
			}
			if r.Unchanged == 0 {
				t.Errorf("no site matched unchanged: the trees were not compared")
			}
		})
	}
}

func TestDiffAgainstASavedReport(t *testing.T) {
	base := filepath.Join(t.TempDir(), "base.json")
	if code, _, stderr := audit(t, "-format", "json", "-o", base, "-C", filepath.Join("..", "..", "..", "fixtures", "statusgo-2024"), "./..."); code == exitFailure {
		t.Fatalf("base audit failed: %s", stderr)
	}
	dir := pullRequest(t, "statusgo-2024", "resendtype/group-regression")
	code, r, stderr := runDiffJSON(t, "-base-report", base, "-C", dir, "./...")
	if code != exitFindings || r.Regressions != 1 || len(r.Changes) != 1 || r.Changes[0].MessageType != "PIN_MESSAGE" {
		t.Fatalf("exit %d, review %+v; want the one PIN_MESSAGE regression\n%s", code, r, stderr)
	}
}

func TestDiffOutputs(t *testing.T) {
	dir := pullRequest(t, "statusgo-2023", "resendautomatically/group-regression")
	run := func(format string) string {
		var stdout, stderr strings.Builder
		if code := runDiff([]string{"-cache=false", "-format", format, "-base", "HEAD", "-C", dir, "./..."}, &stdout, &stderr); code != exitFindings {
			t.Fatalf("%s: exit %d; want %d\n%s", format, code, exitFindings, stderr.String())
		}
		return stdout.String()
	}
	text := run("text")
	if !strings.Contains(text, "protocol/group_chat.go:13:12: regression: private_group MEMBERSHIP_UPDATE_MESSAGE in Messenger.addMembersToGroupChat: mvds → not_mvds (none)") {
		t.Errorf("text output lacks the regression line:\n%s", text)
	}
	md := run("markdown")
	if !strings.Contains(md, "| **regression** | `protocol/group_chat.go:13:12` | `Messenger.addMembersToGroupChat` | private_group | MEMBERSHIP_UPDATE_MESSAGE | mvds → not_mvds (none) |") {
		t.Errorf("markdown lacks the regression row:\n%s", md)
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(run("sarif")), &sarif); err != nil {
		t.Fatal(err)
	}
	res := sarif.Runs[0].Results
	if len(res) != 1 || res[0].RuleID != "MA1008" || res[0].Locations[0].PhysicalLocation.ArtifactLocation.URI != "protocol/group_chat.go" {
		t.Fatalf("sarif results = %+v; want the one MA1008 regression in protocol/group_chat.go", res)
	}
}

func TestDiffRejectsABaseItCannotUse(t *testing.T) {
	dir := pullRequest(t, "statusgo-2024", "resendtype/refactor")
	reports := t.TempDir()
	other := filepath.Join(reports, "other-version.json")
	writeFile(t, other, `{"tool": "mvdsaudit", "version": "v0.0.1", "format": 1, "sites": []}`)
	oldFormat := filepath.Join(reports, "old-format.json")
	writeFile(t, oldFormat, `{"tool": "mvdsaudit", "version": "devel", "sites": []}`)
	foreign := filepath.Join(reports, "foreign.json")
	writeFile(t, foreign, `{"tool": "golangci-lint", "version": "devel", "format": 1}`)
	garbage := filepath.Join(reports, "garbage.json")
	writeFile(t, garbage, `site,verdict`)
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"ref that does not exist", []string{"-base", "no-such-branch"}, `base ref "no-such-branch" does not exist`},
		{"report of another version", []string{"-base-report", other}, "written by mvdsaudit v0.0.1; this is mvdsaudit "},
		{"report of another format", []string{"-base-report", oldFormat}, "report format 0"},
		{"report of another tool", []string{"-base-report", foreign}, `its tool is "golangci-lint"`},
		{"not a report", []string{"-base-report", garbage}, "not a JSON report"},
		{"missing report", []string{"-base-report", filepath.Join(reports, "absent.json")}, "absent.json"},
		{"no base", nil, "exactly one of -base REF and -base-report FILE"},
		{"two bases", []string{"-base", "HEAD", "-base-report", other}, "exactly one of"},
		{"unknown format", []string{"-base", "HEAD", "-format", "xml"}, `unknown -format "xml"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			args := append(append([]string{"-cache=false"}, tc.args...), "-C", dir, "./...")
			code := runDiff(args, &stdout, &stderr)
			if code != exitFailure {
				t.Fatalf("exit code %d; want %d\n%s", code, exitFailure, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tc.msg)
			}
		})
	}
	t.Run("not a git tree", func(t *testing.T) {
		var stdout, stderr strings.Builder
		code := runDiff([]string{"-cache=false", "-base", "HEAD", "-C", t.TempDir(), "./..."}, &stdout, &stderr)
		if code != exitFailure || !strings.Contains(stderr.String(), "needs a git work tree") {
			t.Fatalf("exit %d, stderr %q; want 2 saying a git work tree is needed", code, stderr.String())
		}
	})
}

// A tree's message types come from its generated Go when it has some, else
// from its .proto, else from the built-in table; the report says which.
func TestMessageTypesComeFromTheTreeAndTheReportSaysFromWhere(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "..", "fixtures", "statusgo-2023"), dir)
	pb := filepath.Join(dir, "protocol", "protobuf")
	sitesOf := func() (string, map[string]bool) {
		t.Helper()
		code, out, stderr := audit(t, "-format", "json", "-C", dir, "./...")
		if code == exitFailure {
			t.Fatalf("audit failed: %s", stderr)
		}
		var r struct {
			MessageTypes string `json:"messageTypes"`
			Sites        []struct {
				Function    string `json:"function"`
				MessageType string `json:"messageType"`
			} `json:"sites"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, s := range r.Sites {
			got[s.Function+" "+s.MessageType] = true
		}
		return r.MessageTypes, got
	}
	src, sites := sitesOf()
	if !strings.HasPrefix(src, "generated Go") || !sites["Messenger.editSharedAddresses COMMUNITY_EDIT_SHARED_ADDRESSES"] || len(sitesWith(sites, "publishCommunityAdminEvent")) > 0 {
		t.Fatalf("with generated Go: source %q, sites %v", src, sites)
	}
	// A plain clone: the generated files are not there, the .proto is.
	for _, f := range []string{"application_metadata_message.pb.go", "chat_message.pb.go"} {
		if err := os.Remove(filepath.Join(pb, f)); err != nil {
			t.Fatal(err)
		}
	}
	src, sites = sitesOf()
	if src != "protocol/protobuf/application_metadata_message.proto" || !sites["Messenger.editSharedAddresses COMMUNITY_EDIT_SHARED_ADDRESSES"] || len(sitesWith(sites, "publishCommunityAdminEvent")) > 0 {
		t.Fatalf("from the .proto: source %q, sites %v", src, sites)
	}
	if err := os.Remove(filepath.Join(pb, "application_metadata_message.proto")); err != nil {
		t.Fatal(err)
	}
	if src, _ = sitesOf(); !strings.HasPrefix(src, "built-in table") {
		t.Fatalf("without generated Go or .proto: source %q; want the built-in table", src)
	}
}

func sitesWith(sites map[string]bool, fn string) []string {
	var out []string
	for s := range sites {
		if strings.Contains(s, fn) {
			out = append(out, s)
		}
	}
	return out
}
