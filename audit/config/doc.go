// Package config owns the audits' configuration: what a user can set for
// the static audit (Static) and for the runtime audit (Runtime), the
// defaults, and the one JSON file format both read — with one parser and
// one set of errors.
//
// A configuration file states differences from the defaults, which describe
// status-go as it is. Both audits' files share the format version, the flow
// table (message type → flow, content type → flow; the static audit also
// reads the chat kind a flow implies) and per-rule severities; each audit
// adds its own keys (the static audit's send functions, watch methods and
// ignore list; the runtime audit's deadlines, year and memory limits).
// Every error names the file, the line and column, the key and what is
// wrong; unknown keys are errors, because a misspelt key would otherwise
// silently leave a default in force. All problems of a file are reported at
// once, in file order.
//
// This package knows the rule catalogue (audit/rule) and status-go's
// vocabulary (the core's statusgo package); it must not know about
// go/analysis, log formats, records or how findings are judged and
// reported.
package config
