// Package statusgo is mvdsguard's knowledge of status-go: the import paths of
// the packages that send direct messages, the message and content types of its
// protocol (checked against application_metadata_message.proto and
// chat_message.proto), which Flow each message belongs to, and what each of
// status-go's send functions does with a common.RawMessage — whether it goes
// through MVDS, falls back to status-go's own raw-message resend loop, is sent
// once, or is rejected.
//
// Both audits read status-go through this package: the static audit
// (audit/static) to judge a send site from source code, and the runtime audit
// to judge a message it saw on the wire. It depends only on the root
// vocabulary (mvdsguard.Flow) and must not know about go/analysis, mvds, Waku
// or the enforcement layer.
//
// The facts encoded here describe status-go as of late 2024 (the revision the
// review in docs/review-status-go.md was made on). Every table can be
// overridden: Flows is a plain value that a configuration file adjusts.
package statusgo
