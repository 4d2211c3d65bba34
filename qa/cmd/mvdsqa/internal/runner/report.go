package runner

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// Result is what one scenario run produced.
type Result struct {
	Scenario     string         `json:"scenario"`
	Description  string         `json:"description,omitempty"`
	File         string         `json:"file"`
	Variant      string         `json:"variant"` // guarded | stock | status-go (or a Label)
	Passed       bool           `json:"passed"`
	Error        string         `json:"error,omitempty"` // setup or step failure
	Started      time.Time      `json:"started"`
	Duration     time.Duration  `json:"-"`
	Seconds      float64        `json:"seconds"`
	Sent         int            `json:"sent"`
	Accepted     int            `json:"accepted"`
	Steps        []StepResult   `json:"steps"`
	Expectations []ExpectResult `json:"expectations"`
	WorkDir      string         `json:"workDir,omitempty"` // kept: node data and logs
	// Messages and Outages are the run's timeline (timeline.go): every
	// message sent, and every interval a node or pair was held apart.
	Messages []MessageResult `json:"messages,omitempty"`
	Outages  []Outage        `json:"outages,omitempty"`
	// Network is what the kernel offered a -netns run; Faults what made
	// each fault its steps asked for.
	Network string        `json:"network,omitempty"`
	Faults  []FaultResult `json:"faults,omitempty"`
	// SetupSeconds is how long starting and connecting the nodes took.
	SetupSeconds float64 `json:"setupSeconds"`
	// Usage: with Options.Usage.
	Usage *Usage `json:"usage,omitempty"`
}

// StepResult is one step as it ran; times in seconds from the first step.
type StepResult struct {
	Line  int     `json:"line"`
	Kind  string  `json:"kind"`
	Label string  `json:"label,omitempty"`
	Node  string  `json:"node,omitempty"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Error string  `json:"error,omitempty"`
}

// ExpectResult is one expectation's verdict.
type ExpectResult struct {
	Line     int      `json:"line"`
	Kind     string   `json:"kind"`
	Text     string   `json:"text"`
	Passed   bool     `json:"passed"`
	Measured string   `json:"measured,omitempty"`
	Seconds  *float64 `json:"seconds,omitempty"` // the worst measured time, when met
	Detail   string   `json:"detail,omitempty"`
	// CannotExpress: the nodes of the run cannot answer it (status-go has
	// no such signal); it is not met, and Detail says why.
	CannotExpress bool `json:"cannotExpress,omitempty"`
}

func allPassed(xs []ExpectResult) bool {
	for _, x := range xs {
		if !x.Passed {
			return false
		}
	}
	return true
}

// WriteJSON writes the results as one JSON array.
func WriteJSON(w io.Writer, rs []*Result) error {
	for _, r := range rs {
		r.Seconds = r.Duration.Seconds()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rs)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Errors  int          `xml:"errors,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name   string      `xml:"name,attr"`
	File   string      `xml:"file,attr"`
	Tests  int         `xml:"tests,attr"`
	Fails  int         `xml:"failures,attr"`
	Errors int         `xml:"errors,attr"`
	Time   string      `xml:"time,attr"`
	Stamp  string      `xml:"timestamp,attr"`
	Cases  []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string        `xml:"name,attr"`
	Class   string        `xml:"classname,attr"`
	File    string        `xml:"file,attr"`
	Line    int           `xml:"line,attr"`
	Failure *junitFailure `xml:"failure,omitempty"`
	Error   *junitFailure `xml:"error,omitempty"`
	Out     string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the results as JUnit XML: a test suite per scenario run,
// a test case per expectation, and an error case when setup or a step
// failed.
func WriteJUnit(w io.Writer, rs []*Result) error {
	out := junitSuites{}
	for _, r := range rs {
		s := junitSuite{Name: r.Scenario + " [" + r.Variant + "]", File: r.File, Time: fmt.Sprintf("%.3f", r.Duration.Seconds()),
			Stamp: r.Started.UTC().Format("2006-01-02T15:04:05")}
		class := "mvdsqa." + r.Variant
		if r.Error != "" {
			s.Errors++
			s.Cases = append(s.Cases, junitCase{Name: "steps", Class: class, File: r.File,
				Error: &junitFailure{Message: r.Error, Text: r.Error}})
		}
		for _, x := range r.Expectations {
			c := junitCase{Name: x.Text, Class: class, File: r.File, Line: x.Line, Out: x.Measured}
			if !x.Passed {
				s.Fails++
				c.Failure = &junitFailure{Message: x.Measured, Text: x.Detail}
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Fails += s.Fails
		out.Errors += s.Errors
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// WriteText writes a human summary of one result.
func WriteText(w io.Writer, r *Result) {
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s [%s] (%s, %.1fs, %d of %d sends accepted)\n", verdict, r.Scenario, r.Variant, r.File, r.Duration.Seconds(), r.Accepted, r.Sent)
	if r.Error != "" {
		fmt.Fprintf(w, "      error: %s\n", r.Error)
	}
	for _, x := range r.Expectations {
		mark := "ok  "
		switch {
		case x.CannotExpress:
			mark = "n/a "
		case !x.Passed:
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s:%d: %s: %s\n", mark, r.File, x.Line, x.Text, x.Measured)
		if x.Detail != "" && (!x.Passed || x.CannotExpress) {
			fmt.Fprintf(w, "         %s\n", x.Detail)
		}
	}
	writeFaults(w, r)
	if r.WorkDir != "" {
		fmt.Fprintf(w, "      node data and logs: %s\n", r.WorkDir)
	}
}
