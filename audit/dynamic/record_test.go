package dynamic_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
)

var t0 = time.Date(2024, 10, 23, 14, 0, 0, 0, time.UTC)

func TestEveryRecordKindSurvivesItsJSONForm(t *testing.T) {
	records := []dynamic.Record{
		{Kind: dynamic.KindSend, At: t0, Node: "alice", ID: "m-1", Via: dynamic.ViaMVDS, Flow: mvdsguard.ContactRequest, Peers: []string{"0x04ab"}, ChatID: "c", Attempts: -1},
		{Kind: dynamic.KindSend, At: t0, ID: "m-2", Via: dynamic.ViaCommunity, Type: "COMMUNITY_REQUEST_TO_JOIN", Chat: "community", Attempts: -1},
		{Kind: dynamic.KindSend, At: t0, ID: "m-3", Via: dynamic.ViaPrivate, Type: "CHAT_MESSAGE", Content: "CONTACT_REQUEST", Attempts: 2},
		{Kind: dynamic.KindAttempt, At: t0.Add(time.Millisecond), ID: "m-1", Peer: "0x04ab", Via: dynamic.ViaMVDS, Attempts: -1},
		{Kind: dynamic.KindDelivered, At: t0.Add(time.Second), ID: "m-1", Peer: "0x04ab", Attempts: -1},
		{Kind: dynamic.KindDelivered, At: t0.Add(time.Second), ID: "m-1", Attempts: -1},
		{Kind: dynamic.KindFailed, At: t0, ID: "m-4", Reason: "deadline", Attempts: 0},
		{Kind: dynamic.KindDiscarded, At: t0, ID: "m-5", Attempts: -1},
		{Kind: dynamic.KindRescheduled, At: t0, ID: "m-4", Reason: "user_retry", Attempts: -1},
		{Kind: dynamic.KindConnectivity, At: t0, Node: "alice", Online: true, Wake: true, Attempts: -1},
		{Kind: dynamic.KindConnectivity, At: t0, Node: "alice", Online: false, Attempts: -1},
		{Kind: dynamic.KindReceipt, At: t0, Node: "bob", ID: "m-1", Peer: "0x04cd", Attempts: -1},
	}
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), `{"v":1,`) {
			t.Fatalf("%s does not start with the version, which readers look for first", b)
		}
		got, unknown, err := dynamic.ParseRecord(b)
		if err != nil || len(unknown) != 0 {
			t.Fatalf("%s: %v %v", b, err, unknown)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%s read back as\n%+v\nwant\n%+v", b, got, r)
		}
	}
}

func TestAGuardEventIsARecord(t *testing.T) {
	e := mvdsguard.Event{Seq: 4, Type: mvdsguard.EventFailed, ID: "0xm7", ChatID: "0x04c9", Flow: mvdsguard.OneToOne,
		Attempts: 10, At: 1732002033, Reason: mvdsguard.ReasonMaxAttempts, Retryable: true}
	ev, _ := json.Marshal(e)
	r, _, err := dynamic.ParseRecord([]byte(`{"v":1,"kind":"event","node":"alice","event":` + string(ev) + `}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != dynamic.KindFailed || r.Node != "alice" || r.ID != "0xm7" || r.Flow != mvdsguard.OneToOne || r.Attempts != 10 ||
		r.Reason != "max_attempts" || !r.At.Equal(time.Unix(1732002033, 0)) {
		t.Fatalf("%+v", r)
	}
}

func TestRecordsThatCannotBeUsedSayWhy(t *testing.T) {
	cases := []struct {
		line string
		err  error
		want string
	}{
		{`{"kind":"send"}`, dynamic.ErrNotRecord, `no "v" and "kind"`},
		{`[1,2]`, dynamic.ErrNotRecord, "cannot unmarshal"},
		{`{"v":2,"kind":"send","at":"2024-10-23T14:00:00Z","id":"x","via":"mvds"}`, dynamic.ErrUnsupportedVersion, "reads version 1"},
		{`{"v":1.5,"kind":"send"}`, dynamic.ErrBadRecord, "not a version number"},
		{`{"v":"1","kind":"send"}`, dynamic.ErrBadRecord, "not a version number"},
		{`{"v":1,"kind":"sent","at":"2024-10-23T14:00:00Z","id":"x"}`, dynamic.ErrBadRecord, "unknown kind"},
		{`{"v":1,"kind":"send","id":"x","via":"mvds"}`, dynamic.ErrBadRecord, `missing "at"`},
		{`{"v":1,"kind":"send","at":"yesterday","id":"x","via":"mvds"}`, dynamic.ErrBadRecord, "not an RFC 3339 time"},
		{`{"v":1,"kind":"send","at":-5,"id":"x","via":"mvds"}`, dynamic.ErrBadRecord, "positive number of seconds"},
		{`{"v":1,"kind":"send","at":"2024-10-23T14:00:00Z","via":"mvds"}`, dynamic.ErrBadRecord, `missing "id"`},
		{`{"v":1,"kind":"send","at":"2024-10-23T14:00:00Z","id":"x"}`, dynamic.ErrBadRecord, `missing "via"`},
		{`{"v":1,"kind":"send","at":"2024-10-23T14:00:00Z","id":"x","via":"carrier pigeon"}`, dynamic.ErrBadRecord, "unknown via"},
		{`{"v":1,"kind":"send","at":"2024-10-23T14:00:00Z","id":"x","via":"mvds","flow":"dm"}`, dynamic.ErrBadRecord, "unknown flow"},
		{`{"v":1,"kind":"send","at":"2024-10-23T14:00:00Z","id":"` + strings.Repeat("x", 600) + `","via":"mvds"}`, dynamic.ErrBadRecord, "more than 512"},
		{`{"v":1,"kind":"send","at":"2024-10-23T14:00:00Z","id":7,"via":"mvds"}`, dynamic.ErrBadRecord, `field "id" is a JSON number, want a string`},
		{`{"v":1,"kind":"connectivity","at":"2024-10-23T14:00:00Z"}`, dynamic.ErrBadRecord, `missing "online"`},
		{`{"v":1,"kind":"connectivity","at":"2024-10-23T14:00:00Z","online":"yes"}`, dynamic.ErrBadRecord, `field "online"`},
		{`{"v":1,"kind":"receipt","at":"2024-10-23T14:00:00Z","id":"x","peer":"0x04"}`, dynamic.ErrBadRecord, `"from"`},
		{`{"v":1,"kind":"attempt","at":"2024-10-23T14:00:00Z","id":"x","from":"0x04"}`, dynamic.ErrBadRecord, `"from" belongs to receipts`},
		{`{"v":1,"kind":"event","node":"a"}`, dynamic.ErrBadRecord, `missing "event"`},
		{`{"v":1,"kind":"event","event":{"type":"mvds.message.lost","event":{}}}`, dynamic.ErrBadRecord, "unknown event type"},
		{`{"v":1,"kind":"send","at":"2024-10-23T14:00:00Z","id":"x","via":"mvds","event":{}}`, dynamic.ErrBadRecord, "belongs to records of kind event"},
	}
	for _, c := range cases {
		_, _, err := dynamic.ParseRecord([]byte(c.line))
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n  %v\n  want %v containing %q", c.line, err, c.err, c.want)
		}
	}
}

func TestUnknownFieldsAreNamedAndIgnored(t *testing.T) {
	r, unknown, err := dynamic.ParseRecord([]byte(`{"v":1,"kind":"attempt","at":1729692000.25,"id":"x","battery":0.9,"app":{"build":3}}`))
	if err != nil || strings.Join(unknown, ",") != "app,battery" {
		t.Fatalf("%v %v", unknown, err)
	}
	if !r.At.Equal(time.Unix(1729692000, 250e6)) || r.Kind != dynamic.KindAttempt {
		t.Fatalf("%+v", r)
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"kind":"send","at":"2024-10-23T14:00:00Z","node":"a","id":"x","via":"private","type":"CHAT_MESSAGE","peers":["0x04"]}`,
		`{"v":1,"kind":"failed","at":1729692000,"id":"x","attempts":0,"reason":"deadline"}`,
		`{"v":1,"kind":"connectivity","at":"2024-10-23T14:00:00.5+02:00","online":true,"wake":true}`,
		`{"v":1,"kind":"receipt","at":"2024-10-23T14:00:00Z","id":"x","from":"0x04"}`,
		`{"v":1,"kind":"event","node":"a","event":{"type":"mvds.message.sent","event":{"seq":3,"id":"x","flow":"contact_request","peer":"0x04","attempts":1,"at":1732003600}}}`,
		`{"v":2,"kind":"send"}`, `{"kind":"x"}`, `{"v":1}`, `not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, _, err := dynamic.ParseRecord(line)
		if err != nil {
			if !errors.Is(err, dynamic.ErrNotRecord) && !errors.Is(err, dynamic.ErrBadRecord) && !errors.Is(err, dynamic.ErrUnsupportedVersion) {
				t.Fatalf("error %v wraps none of the record errors", err)
			}
			return
		}
		// What was accepted can be written and read back unchanged.
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted %+v but cannot write it: %v", r, err)
		}
		back, _, err := dynamic.ParseRecord(b)
		if err != nil {
			t.Fatalf("wrote %s from %q but cannot read it: %v", b, line, err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("%q → %+v → %s → %+v", line, r, b, back)
		}
	})
}
