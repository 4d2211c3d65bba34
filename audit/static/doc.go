// Package static defines an Analyzer that proves, from source code, how
// every critical status-go direct message is sent. It owns the abstract
// interpretation of send sites, the rules and the suppression directives;
// it knows status-go only through the core's statusgo package and must not
// import mvds, go-waku or the enforcement layer.
//
// # Analyzer mvdsaudit
//
// mvdsaudit: report critical status-go messages that do not go through MVDS
//
// The analyzer finds every common.RawMessage whose MessageType (and, for a
// CHAT_MESSAGE, its content type or the chat it is sent in) belongs to a
// critical flow — contact requests, community join requests and responses,
// one-to-one and private group messages — follows it to the status-go send
// function that puts it on the wire (MessageSender.SendPrivate, SendGroup,
// SendCommunityMessage, SendPublic, SendPubsubTopicKey, or
// Messenger.dispatchMessage), and judges the send site:
//
//	mvds         MVDS retransmits it until the peer acknowledges
//	not_mvds     sent without MVDS; the fail path is status-go's raw-message
//	             resend loop (at most 3 resends) or nothing at all
//	conditional  which of the above depends on a runtime value
//	broken       ResendTypeDataSync with Sender, SkipEncryptionLayer or
//	             SendOnPersonalTopic: SendPrivate rejects it, nothing is sent
//	unresolved   the analyzer could not decide
//
// It resolves the ResendType through constants, variables, assignments after
// the message is built, functions that return a constant (Chat's
// DefaultResendType, and any function that computes a ResendType from a chat,
// is summarised from its body per chat kind), and dispatchMessage's choice
// of send function by chat kind. A branch on a chat's kind splits the path,
// and each send site is judged in the chat kinds its path still allows.
// Trees of either RawMessage generation are read in their own terms:
// ResendAutomatically (status-go before March 2024) or ResendType, and
// message types in the tree's own numbering (its generated protobuf Go,
// else its .proto, else the built-in table). It discovers, with
// facts that cross package boundaries, functions that forward a RawMessage
// to a send function (changing it on the way or not), functions that hand a
// message to a callback parameter which callers bind to dispatchMessage or
// another send function, and a *RawMessage reused after a send left its
// Sender set, so that a later DataSync send is rejected.
//
// Where type information is missing (a plain clone of status-go lacks its
// generated protobuf and migration packages), the analyzer reads
// import-path-qualified names instead and marks the sites it judged that
// way.
//
// Findings carry stable rule ids (MA1001 ...) documented in
// docs/audit-rules.md. A finding is suppressed by a directive on its line or
// the line above:
//
//	//mvdsaudit:ignore MA1001 reason
//
// Flags: -config names a JSON configuration file (docs/audit.md); -sites
// also reports every send site as a diagnostic; -severity sets the lowest
// severity reported as a diagnostic.
package static
