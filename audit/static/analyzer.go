package static

import (
	_ "embed"
	"fmt"

	"go/token"
	"reflect"
	"sort"
	"strings"
	"sync"

	"golang.org/x/tools/go/analysis"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/audit/static/suppress"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

//go:embed doc.go
var docSource string

// Analyzer is the static audit with its configuration taken from the
// -config flag (the built-in defaults when it is empty).
var Analyzer = New(Options{})

// Options configure an analyzer built with New.
type Options struct {
	// Config, when set, is used instead of the -config flag.
	Config *config.Static
	// ReportSites also reports every send site as a diagnostic of category
	// "site", so that tests can pin each site's verdict.
	ReportSites bool
	// MinSeverity is the lowest severity reported as a diagnostic;
	// findings below it are still in the Result. Zero means warning.
	MinSeverity rule.Severity
}

// Result is what the analyzer returns for one package.
type Result struct {
	Sites []Site
	// Findings are the findings left after suppression directives, whatever
	// their severity (rules set to off are dropped).
	Findings []Finding
	// Suppressed are the findings a directive suppressed.
	Suppressed []Finding
	// MessageTypes names where the numbering of message types came from
	// (the tree's generated Go, its .proto, or the built-in table), when
	// the package used any.
	MessageTypes string `json:"messageTypes,omitempty"`
}

// Finding is one reported problem.
type Finding struct {
	Rule     string        `json:"rule"`
	Pos      token.Pos     `json:"-"`
	Position string        `json:"pos"`
	Message  string        `json:"message"`
	Severity rule.Severity `json:"severity"`
	Function string        `json:"function,omitempty"`
	// Reason is the suppression directive's reason, for suppressed findings.
	Reason string `json:"reason,omitempty"`
}

// New returns an analyzer with the given options.
func New(opts Options) *analysis.Analyzer {
	r := &runner{opts: opts}
	a := &analysis.Analyzer{
		Name:             "mvdsaudit",
		Doc:              extractDoc(docSource),
		URL:              "https://github.com/mvdsguard/mvdsguard/blob/main/docs/audit-rules.md",
		Run:              r.run,
		RunDespiteErrors: true,
		FactTypes:        []analysis.Fact{new(Summary)},
		ResultType:       reflect.TypeOf((*Result)(nil)),
	}
	a.Flags.StringVar(&r.configPath, "config", "", "JSON configuration file (see docs/audit.md)")
	a.Flags.BoolVar(&r.opts.ReportSites, "sites", opts.ReportSites, "also report every send site as a diagnostic")
	a.Flags.Func("severity", "lowest severity reported as a diagnostic: error, warning or info (default warning)", func(s string) error {
		sev, err := rule.ParseSeverity(s)
		if err != nil {
			return err
		}
		r.opts.MinSeverity = sev
		return nil
	})
	return a
}

type runner struct {
	opts       Options
	configPath string

	mu     sync.Mutex
	loaded map[string]*config.Static
}

func (r *runner) config() (*config.Static, error) {
	if r.opts.Config != nil {
		return r.opts.Config, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cfg, ok := r.loaded[r.configPath]; ok {
		return cfg, nil
	}
	cfg, err := config.LoadStatic(r.configPath)
	if err != nil {
		return nil, err
	}
	if r.loaded == nil {
		r.loaded = map[string]*config.Static{}
	}
	r.loaded[r.configPath] = cfg
	return cfg, nil
}

func (r *runner) run(pass *analysis.Pass) (res any, err error) {
	defer func() {
		// A construct the interpreter does not expect must cost one
		// package's result, with a message, not the whole go vet run.
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("internal error analysing %s: %v (please report it with the package's source)", pass.Pkg.Path(), p)
		}
	}()
	cfg, err := r.config()
	if err != nil {
		return nil, err
	}
	e := newEngine(pass, cfg)
	for _, fd := range e.candidates() {
		e.summary(fd)
	}
	for _, fd := range e.decls {
		if fd.obj == nil || !fd.obj.Exported() {
			continue
		}
		if arg := e.chatArg(fd); arg != noChat {
			if s := e.summary(fd); arg == receiverChat || len(s.Effects) == 0 {
				if bc := e.chatSummary(fd, arg); len(bc) > 0 && resendByChat(bc, e.legacy) {
					pass.ExportObjectFact(fd.obj, &Summary{Name: fd.name, Package: pass.Pkg.Name(), ByChat: bc, ChatArg: arg + 1})
					continue
				}
			}
		}
		if s, ok := e.summaries[fd]; ok && !s.empty() {
			pass.ExportObjectFact(fd.obj, s)
		}
	}
	result := &Result{Sites: e.sites.build(e)}
	if e.types != nil {
		result.MessageTypes = e.types.source
	}
	var raw []Finding
	for _, s := range result.Sites {
		raw = append(raw, siteFindings(s)...)
	}
	result.Findings, result.Suppressed = applyDirectives(pass, cfg, raw)
	minSev := r.opts.MinSeverity
	if minSev == 0 {
		minSev = rule.SeverityWarning
	}
	if r.opts.ReportSites {
		for _, s := range result.Sites {
			pass.Report(analysis.Diagnostic{Pos: s.Pos, Category: "site", Message: siteLine(s)})
		}
	}
	for i := range result.Findings {
		f := &result.Findings[i]
		f.Position = e.position(f.Pos)
		if f.Severity > minSev {
			continue
		}
		pass.Report(analysis.Diagnostic{
			Pos:      f.Pos,
			Category: f.Rule,
			Message:  f.Message + " (" + f.Rule + ")",
			URL:      "https://github.com/mvdsguard/mvdsguard/blob/main/docs/audit-rules.md#" + strings.ToLower(f.Rule),
		})
	}
	for i := range result.Suppressed {
		result.Suppressed[i].Position = e.position(result.Suppressed[i].Pos)
	}
	return result, nil
}

// resendByChat reports whether a per-chat summary returns a ResendType (or,
// in the first generation, a bool that may be ResendAutomatically), the
// only kind other packages need (Chat.DefaultResendType).
func resendByChat(bc map[statusgo.ChatKind][]Value, legacy bool) bool {
	for _, vs := range bc {
		for _, v := range vs {
			if v.Class == CResendType || v.Class == CBool && legacy {
				return true
			}
		}
	}
	return false
}

// siteLine is the diagnostic printed for a site under -sites.
func siteLine(s Site) string {
	line := fmt.Sprintf("site %s %s via %s: %s", s.Flow, s.MessageType, s.SendCall, s.Verdict)
	if s.Mechanism != "" {
		line += " (" + s.Mechanism + ")"
	}
	if s.Resolution == "syntax" {
		line += " [syntax]"
	}
	return line
}

// siteFindings turns a site's verdict into findings.
func siteFindings(s Site) []Finding {
	what := fmt.Sprintf("%s message %s via %s", s.Flow, s.MessageType, s.SendCall)
	if s.Flow == "unknown" {
		what = fmt.Sprintf("message of unknown type via %s", s.SendCall)
	}
	var out []Finding
	add := func(id, msg string) {
		out = append(out, Finding{Rule: id, Pos: s.Pos, Message: msg, Function: s.Function})
	}
	switch s.Verdict {
	case VerdictBroken:
		id := rule.BrokenDataSync
		var reasons []string
		partial, laterOnly := false, true
		for _, o := range s.Outcomes {
			if o.Verdict != VerdictBroken {
				partial = true
				continue
			}
			if !strings.Contains(o.When, laterIteration) {
				laterOnly = false
			}
			if o.Reused {
				id = rule.ReusedSender
			}
			reasons = append(reasons, o.Reason)
		}
		msg := what + " is never sent: " + strings.Join(distinct(reasons), "; ")
		switch {
		case partial && laterOnly:
			msg += " (from the loop's second iteration on)"
		case partial:
			msg += " (on some paths only; see the site's outcomes)"
		}
		add(id, msg)
	case VerdictNotMVDS:
		if strings.Contains(s.Mechanism, "none") {
			add(rule.NoFailPath, what+" does not use MVDS and nothing retries it: "+reasonsOf(s.Outcomes, "none"))
		} else {
			add(rule.NotMVDS, what+" does not use MVDS: "+reasonsOf(s.Outcomes, ""))
		}
	case VerdictConditional:
		var parts []string
		common := commonConds(s.Outcomes)
		for _, o := range s.Outcomes {
			o.When = dropConds(o.When, common)
			v := o.Verdict
			if o.Mechanism != "" && o.Verdict == VerdictNotMVDS {
				v += " (" + o.Mechanism + ")"
			}
			if o.When != "" {
				v += " when " + o.When
			}
			parts = append(parts, v)
		}
		add(rule.Conditional, what+": whether it uses MVDS depends on "+s.Condition+": "+strings.Join(distinct(parts), "; "))
	case VerdictUnresolved:
		var reasons []string
		for _, o := range s.Outcomes {
			if o.Verdict == VerdictUnresolved {
				reasons = append(reasons, o.Reason)
			}
		}
		add(rule.Unresolved, what+": the audit cannot decide: "+strings.Join(distinct(reasons), "; "))
	}
	if s.Resolution == "syntax" {
		add(rule.SyntaxOnly, what+" was judged from syntax: type information is missing here")
	}
	return out
}

// commonConds returns the conditions every outcome shares: they do not
// tell the outcomes apart, so messages leave them out.
func commonConds(os []Outcome) map[string]bool {
	count := map[string]int{}
	for _, o := range os {
		seen := map[string]bool{}
		for _, c := range strings.Split(o.When, " && ") {
			if c != "" && !seen[c] {
				seen[c] = true
				count[c]++
			}
		}
	}
	out := map[string]bool{}
	for c, n := range count {
		if n == len(os) {
			out[c] = true
		}
	}
	return out
}

func dropConds(when string, drop map[string]bool) string {
	var keep []string
	for _, c := range strings.Split(when, " && ") {
		if c != "" && !drop[c] {
			keep = append(keep, c)
		}
	}
	return strings.Join(keep, " && ")
}

func reasonsOf(os []Outcome, mechanism string) string {
	var rs []string
	for _, o := range os {
		if mechanism == "" || o.Mechanism == mechanism {
			rs = append(rs, o.Reason)
		}
	}
	return strings.Join(distinct(rs), "; ")
}

func distinct(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

type directive struct {
	d    suppress.Directive
	pos  token.Pos
	file string
	line int
	used bool
}

// applyDirectives parses the package's suppression directives, removes the
// findings they match, reports malformed and unused directives, and sets
// each finding's severity (dropping rules turned off).
func applyDirectives(pass *analysis.Pass, cfg *config.Static, raw []Finding) (kept, suppressed []Finding) {
	var dirs []*directive
	var own []Finding
	for _, f := range pass.Files {
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				d, ok, err := suppress.Parse(c.Text)
				if !ok {
					continue
				}
				if err != nil {
					own = append(own, Finding{Rule: rule.BadDirective, Pos: c.Pos(), Message: "malformed directive: " + err.Error()})
					continue
				}
				p := pass.Fset.Position(c.Pos())
				dirs = append(dirs, &directive{d: d, pos: c.Pos(), file: p.Filename, line: p.Line})
			}
		}
	}
	for _, f := range raw {
		p := pass.Fset.Position(f.Pos)
		var by *directive
		for _, d := range dirs {
			if d.file != p.Filename || !d.d.Matches(f.Rule) {
				continue
			}
			if d.d.Kind == suppress.File || p.Line == d.line || p.Line == d.line+1 {
				by = d
				break
			}
		}
		f.Severity = cfg.SeverityOf(f.Rule)
		if by != nil {
			by.used = true
			f.Reason = by.d.Reason
			suppressed = append(suppressed, f)
			continue
		}
		if f.Severity != rule.SeverityOff {
			kept = append(kept, f)
		}
	}
	for _, d := range dirs {
		if d.used {
			continue
		}
		enabled := false
		for _, id := range d.d.Rules {
			if cfg.SeverityOf(id) != rule.SeverityOff {
				enabled = true
			}
		}
		if enabled {
			own = append(own, Finding{Rule: rule.UnusedDirective, Pos: d.pos,
				Message: fmt.Sprintf("directive //mvdsaudit:ignore %s matches no finding; remove it", strings.Join(d.d.Rules, ","))})
		}
	}
	for _, f := range own {
		f.Severity = cfg.SeverityOf(f.Rule)
		if f.Severity != rule.SeverityOff {
			kept = append(kept, f)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].Pos < kept[j].Pos })
	return kept, suppressed
}

// extractDoc turns the package comment of doc.go into the analyzer's Doc:
// the title line first, then the description.
func extractDoc(src string) string {
	var lines []string
	for _, l := range strings.Split(src, "\n") {
		if strings.HasPrefix(l, "package ") {
			break
		}
		l = strings.TrimPrefix(l, "//")
		l = strings.TrimPrefix(l, " ")
		lines = append(lines, l)
	}
	text := strings.Join(lines, "\n")
	const marker = "# Analyzer mvdsaudit"
	if i := strings.Index(text, marker); i >= 0 {
		text = strings.TrimSpace(text[i+len(marker):])
	}
	return strings.TrimSpace(strings.TrimPrefix(text, "mvdsaudit: "))
}
