package mvdsguard

import "fmt"

// Status is where a tracked message stands. Pending is the only state that
// can change by itself; Delivered, Failed and Discarded are terminal until the
// user acts (Retry turns Failed back into Pending).
type Status uint8

const (
	// Pending: at least one recipient has not acknowledged yet and retries
	// continue. A Pending message may additionally be Stalled.
	Pending Status = iota + 1
	// Delivered: every recipient acknowledged the message.
	Delivered
	// Failed: retries ran out (attempts or deadline) before every recipient
	// acknowledged. The GUI shows a retry button.
	Failed
	// Discarded: the user gave up on the message; its retry state is freed.
	Discarded
)

var statusNames = map[Status]string{
	Pending:   "pending",
	Delivered: "delivered",
	Failed:    "failed",
	Discarded: "discarded",
}

// String returns the status's wire name, such as "pending".
func (s Status) String() string {
	if name, ok := statusNames[s]; ok {
		return name
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	_, ok := statusNames[s]
	return ok
}

// Terminal reports whether no further transition happens without a user
// action.
func (s Status) Terminal() bool {
	return s == Delivered || s == Failed || s == Discarded
}

// ParseStatus converts a wire name back to a Status.
func ParseStatus(s string) (Status, error) {
	for st, name := range statusNames {
		if name == s {
			return st, nil
		}
	}
	return 0, fmt.Errorf("unknown status %q (want pending, delivered, failed or discarded)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("marshal status: invalid status %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
