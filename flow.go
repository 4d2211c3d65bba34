package mvdsguard

import (
	"fmt"
	"strings"
)

// Flow is the user-visible conversation a critical direct message belongs to.
// Each Flow gets its own retry policy and its own row in every report.
type Flow uint8

// The flows, in the order reports list them. The zero value is not a flow, so
// a forgotten field is caught instead of silently counted as Other.
const (
	// ContactRequest covers sending, accepting, declining and retracting a
	// contact request, and contact updates that carry the request state.
	ContactRequest Flow = iota + 1
	// JoinRequest covers a community request to join, its cancellation, the
	// admin's response and edits of the shared addresses.
	JoinRequest
	// OneToOne covers chat messages, edits, deletions, reactions and pins in
	// one-to-one chats.
	OneToOne
	// PrivateGroup covers membership updates, invitations and messages in
	// private group chats.
	PrivateGroup
	// Other is any direct message that is none of the above.
	Other
)

// Flows lists every valid Flow in report order.
var Flows = []Flow{ContactRequest, JoinRequest, OneToOne, PrivateGroup, Other}

var flowNames = map[Flow]string{
	ContactRequest: "contact_request",
	JoinRequest:    "join_request",
	OneToOne:       "one_to_one",
	PrivateGroup:   "private_group",
	Other:          "other",
}

// String returns the flow's wire name, such as "contact_request".
func (f Flow) String() string {
	if name, ok := flowNames[f]; ok {
		return name
	}
	return fmt.Sprintf("flow(%d)", uint8(f))
}

// Valid reports whether f is one of the defined flows.
func (f Flow) Valid() bool {
	_, ok := flowNames[f]
	return ok
}

// Critical reports whether losing a message of this flow silently is a defect
// the audit reports. Every flow but Other is critical.
func (f Flow) Critical() bool {
	return f.Valid() && f != Other
}

// ParseFlow converts a wire name (as written by String) back to a Flow.
func ParseFlow(s string) (Flow, error) {
	for f, name := range flowNames {
		if name == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown flow %q (want one of %s)", s, strings.Join(flowNameList(), ", "))
}

// MarshalText implements encoding.TextMarshaler; an invalid flow is an error
// so that it never reaches a GUI or a report as "flow(0)".
func (f Flow) MarshalText() ([]byte, error) {
	if !f.Valid() {
		return nil, fmt.Errorf("marshal flow: invalid flow %d", uint8(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Flow) UnmarshalText(b []byte) error {
	v, err := ParseFlow(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

func flowNameList() []string {
	names := make([]string, 0, len(Flows))
	for _, f := range Flows {
		names = append(names, flowNames[f])
	}
	return names
}
