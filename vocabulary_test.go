package mvdsguard_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard"
)

func TestFlowNamesRoundTrip(t *testing.T) {
	for _, f := range mvdsguard.Flows {
		got, err := mvdsguard.ParseFlow(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFlow(%q) = %v, %v; want %v", f.String(), got, err, f)
		}
	}
}

func TestUnknownFlowIsRejectedWithTheValidNames(t *testing.T) {
	_, err := mvdsguard.ParseFlow("contact")
	if err == nil || !strings.Contains(err.Error(), `"contact"`) || !strings.Contains(err.Error(), "contact_request") {
		t.Fatalf("ParseFlow(contact) error = %v; want it to name the input and the valid flows", err)
	}
	if _, err := json.Marshal(mvdsguard.Flow(0)); err == nil {
		t.Fatal("marshalling the zero Flow succeeded; want an error")
	}
}

func TestOnlyOtherIsNotCritical(t *testing.T) {
	for _, f := range mvdsguard.Flows {
		if f.Critical() == (f == mvdsguard.Other) {
			t.Errorf("%v.Critical() = %v", f, f.Critical())
		}
	}
	if mvdsguard.Flow(0).Critical() {
		t.Error("the zero Flow is critical")
	}
}

func TestStatusTerminality(t *testing.T) {
	want := map[mvdsguard.Status]bool{
		mvdsguard.Pending: false, mvdsguard.Delivered: true, mvdsguard.Failed: true, mvdsguard.Discarded: true,
	}
	for s, terminal := range want {
		if s.Terminal() != terminal {
			t.Errorf("%v.Terminal() = %v; want %v", s, s.Terminal(), terminal)
		}
		back, err := mvdsguard.ParseStatus(s.String())
		if err != nil || back != s {
			t.Errorf("ParseStatus(%q) = %v, %v", s.String(), back, err)
		}
	}
}

func TestEventUsesTheSignalEnvelope(t *testing.T) {
	e := mvdsguard.Event{
		Seq: 42, Type: mvdsguard.EventFailed, ID: "0xabc", ChatID: "chat", Flow: mvdsguard.ContactRequest,
		Peer: "0x04ff", Attempts: 15, FirstAttemptAt: 1732000000, LastAttemptAt: 1732090000,
		Reason: mvdsguard.ReasonMaxAttempts, Retryable: true,
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"type":"mvds.message.failed","event":{"seq":42,"id":"0xabc","chatId":"chat",` +
		`"flow":"contact_request","peer":"0x04ff","attempts":15,"firstAttemptAt":1732000000,` +
		`"lastAttemptAt":1732090000,"reason":"max_attempts","retryable":true}}`
	if string(b) != want {
		t.Fatalf("json = %s\nwant   %s", b, want)
	}
	var back mvdsguard.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != e {
		t.Fatalf("round trip = %+v; want %+v", back, e)
	}
}

func TestEventDecodingRejectsBadEnvelopes(t *testing.T) {
	for name, in := range map[string]string{
		"unknown type": `{"type":"mvds.message.exploded","event":{"seq":1,"flow":"other"}}`,
		"unknown flow": `{"type":"mvds.message.sent","event":{"seq":1,"flow":"chat"}}`,
		"no type":      `{"event":{"seq":1,"flow":"other"}}`,
		"no event":     `{"type":"mvds.message.sent"}`,
		"not json":     `{"type":`,
	} {
		var e mvdsguard.Event
		if err := json.Unmarshal([]byte(in), &e); err == nil {
			t.Errorf("%s: decoding %s succeeded; want an error", name, in)
		}
	}
}

func TestEventDecodingIgnoresFieldsAddedLater(t *testing.T) {
	var e mvdsguard.Event
	in := `{"type":"mvds.message.delivered","event":{"seq":7,"id":"x","flow":"one_to_one","newField":1},"extra":true}`
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	if e.Seq != 7 || e.Type != mvdsguard.EventDelivered || e.Flow != mvdsguard.OneToOne {
		t.Fatalf("decoded %+v", e)
	}
}

// The fixtures are signals captured from status-go running the Guard (see
// fixtures/signals/README.md): every Guard event decodes and encodes back to
// the bytes status-go delivered, and status-go's own signals share the
// envelope.
func TestEventsDecodeWhatStatusGoSignalled(t *testing.T) {
	files, err := filepath.Glob("fixtures/signals/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no signal fixtures: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var guard int
		for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var env struct {
				Type  string          `json:"type"`
				Event json.RawMessage `json:"event"`
			}
			if err := json.Unmarshal([]byte(line), &env); err != nil || env.Type == "" || len(env.Event) == 0 {
				t.Fatalf("%s:%d: not a signal envelope: %v", name, i+1, err)
			}
			if !strings.HasPrefix(env.Type, "mvds.message.") {
				continue
			}
			guard++
			var e mvdsguard.Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%s:%d: %v", name, i+1, err)
			}
			back, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("%s:%d: %v", name, i+1, err)
			}
			if string(back) != line {
				t.Errorf("%s:%d: encodes as\n%s\nwant\n%s", name, i+1, back, line)
			}
		}
		if guard == 0 {
			t.Errorf("%s holds no Guard event", name)
		}
	}
}
