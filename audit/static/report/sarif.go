package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/audit/static"
)

// RulesURL is where every rule has its page; a rule's anchor is its id in
// lower case.
const RulesURL = "https://github.com/mvdsguard/mvdsguard/blob/main/docs/audit-rules.md"

// The SARIF 2.1.0 subset code-scanning services read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                `json:"tool"`
	OriginalURIBaseIDs map[string]sarifArtifact `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult            `json:"results"`
	Invocations        []sarifInvocation        `json:"invocations"`
	Properties         map[string]any           `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	ShortDescription     sarifText       `json:"shortDescription"`
	FullDescription      sarifText       `json:"fullDescription"`
	HelpURI              string          `json:"helpUri"`
	DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
	Properties           map[string]any  `json:"properties,omitempty"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
}

func sarifLevel(s rule.Severity) string {
	switch s {
	case rule.SeverityError:
		return "error"
	case rule.SeverityWarning:
		return "warning"
	}
	return "note"
}

var fingerprintPositions = regexp.MustCompile(`\.go:\d+:\d+`)

// SARIF writes the run as a SARIF 2.1.0 log. Findings without a position
// (a package that could not be loaded) become tool notifications, since
// code scanning needs a location for every result. Suppressed findings are
// included with an in-source suppression, as SARIF intends.
func SARIF(w io.Writer, r *Run) error {
	rules := rule.Static.Rules()
	index := map[string]int{}
	driver := sarifDriver{Name: r.Tool, Version: r.Version, InformationURI: "https://github.com/mvdsguard/mvdsguard/blob/main/docs/audit.md"}
	for i, ru := range rules {
		index[ru.ID] = i
		driver.Rules = append(driver.Rules, sarifRule{
			ID:                   ru.ID,
			Name:                 ru.Name,
			ShortDescription:     sarifText{Text: ru.Title},
			FullDescription:      sarifText{Text: ru.Title + ". See " + RulesURL + "#" + strings.ToLower(ru.ID)},
			HelpURI:              RulesURL + "#" + strings.ToLower(ru.ID),
			DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(ru.Severity)},
			Properties:           map[string]any{"tags": []string{"mvds", "reliability"}},
		})
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}}
	if r.Root != "" {
		root := filepath.ToSlash(r.Root)
		if !strings.HasSuffix(root, "/") {
			root += "/"
		}
		if !strings.HasPrefix(root, "/") {
			root = "/" + root
		}
		run.OriginalURIBaseIDs = map[string]sarifArtifact{"%SRCROOT%": {URI: (&url.URL{Scheme: "file", Path: root}).String()}}
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	add := func(f static.Finding, suppression *sarifSuppression) {
		file, line, col := splitPos(f.Position)
		if f.Position == "" || line == 0 {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications,
				sarifNotification{Level: sarifLevel(f.Severity), Message: sarifText{Text: f.Rule + ": " + f.Message}})
			return
		}
		sum := sha256.Sum256([]byte(f.Rule + "\x00" + file + "\x00" + f.Function + "\x00" + fingerprintPositions.ReplaceAllString(f.Message, ".go")))
		res := sarifResult{
			RuleID:    f.Rule,
			RuleIndex: index[f.Rule],
			Level:     sarifLevel(f.Severity),
			Message:   sarifText{Text: f.Message},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: uriPath(file), URIBaseID: "%SRCROOT%"},
				Region:           sarifRegion{StartLine: line, StartColumn: col},
			}}},
			PartialFingerprints: map[string]string{"mvdsaudit/v1": hex.EncodeToString(sum[:16])},
		}
		if suppression != nil {
			res.Suppressions = []sarifSuppression{*suppression}
		}
		run.Results = append(run.Results, res)
	}
	for _, f := range r.Findings {
		add(f, nil)
	}
	for _, f := range r.Suppressed {
		add(f, &sarifSuppression{Kind: "inSource", Justification: f.Reason})
	}
	for _, f := range r.Baselined {
		add(f, &sarifSuppression{Kind: "external", Justification: "in the baseline"})
	}
	run.Invocations = []sarifInvocation{inv}
	run.Properties = map[string]any{"summary": Summarize(r)}
	if r.MessageTypes != "" {
		run.Properties["messageTypes"] = r.MessageTypes
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

// uriPath escapes a relative path for a SARIF URI.
func uriPath(p string) string {
	parts := strings.Split(filepath.ToSlash(p), "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
