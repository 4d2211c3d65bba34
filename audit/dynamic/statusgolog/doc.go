// Package statusgolog reads the log lines status-go writes when its message
// sender puts a message on the wire, in every format status-go's releases
// have written:
//
//   - geth's terminal format, used by the 2024 releases, into which status-go
//     forwards its zap fields: LEVEL[MM-DD|hh:mm:ss.mmm|caller] message
//     key=value ... (the message is padded to 40 columns, values that hold a
//     space, a quote or '=' are Go-quoted, lists print as [a b], keys may hold
//     spaces; with colours on, levels and keys carry ANSI escapes);
//   - zap's console encoding of later releases: ISO 8601 time, level, optional
//     logger name and caller, message and a JSON object of fields, separated by
//     tabs;
//   - zap's JSON encoding: one object per line with the production ("ts",
//     "level", "msg") or development ("T", "L", "M") keys.
//   - geth's logfmt format of 2023's desktop builds: t=<ISO time> lvl=<level>
//     msg="<message>" followed by geth's key=value fields.
//
// A line may carry a prefix before the entry (docker compose's "alice-1  | ",
// a collector's process label); the prefix is returned as the line's Source,
// so that interleaved logs of several processes stay apart.
//
// An editor's line number before an entry ("  12\t") is stripped when an
// entry follows it; a number is never taken for a process label.
//
// Of status-go's lines the parser understands the ones the runtime audit
// needs: the four "sent-message:" lines of MessageSender (private without
// datasync, private skipProtocolLayer, community, public) and their names
// before 2024-02-27 ("sent private message without datasync", …), the
// datasync dispatch ("sent private messages", with the ids of the messages a
// packet carried), the datasync acknowledgement that marks a message
// delivered, the messenger's "connection changed", and its "processing
// message" for a message the node received. A WARN, ERROR or CRIT line is
// never one of them. Every other line in one of the formats is recognised as
// a status-go line and otherwise ignored.
//
// The package knows status-go's log formats and the text of those lines; it
// must not know the audit's records, checks or reports, and it never fails on
// input: a line it cannot use is classified and, when it looked like one of
// the lines above, described by an error.
package statusgolog
