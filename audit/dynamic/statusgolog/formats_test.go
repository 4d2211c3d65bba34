package statusgolog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/dynamic/internal/logwriter"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/statusgolog"
)

func TestLogfmtLinesOf2023AreRead(t *testing.T) {
	sec := at.Truncate(time.Second)
	cases := []struct {
		name  string
		entry logwriter.Entry
		check func(e statusgolog.Entry) bool
	}{
		{"datasync dispatch of two", logwriter.LegacyDatasyncSent(at, []string{idA, idB}, someHashe[0]), func(e statusgolog.Entry) bool {
			return e.Kind == statusgolog.DatasyncSent && strings.Join(e.MessageIDs, ",") == idA+","+idB
		}},
		{"datasync dispatch of one", logwriter.LegacyDatasyncSent(at, []string{idA}, someHashe[0]), func(e statusgolog.Entry) bool {
			return e.Kind == statusgolog.DatasyncSent && strings.Join(e.MessageIDs, ",") == idA
		}},
		{"legacy private send", logwriter.LegacySent(at, logwriter.LegacyPrivate, idA, someHashe[0]), func(e statusgolog.Entry) bool {
			return e.Kind == statusgolog.SentPrivate && e.MessageID == idA && e.Legacy && e.Incomplete == ""
		}},
		{"offline without force", logwriter.LegacyConnectionChanged(at, false), func(e statusgolog.Entry) bool {
			return e.Kind == statusgolog.ConnectionChanged && !e.Online && e.Incomplete == "force"
		}},
		{"a received message", logwriter.Received(at, someHashe[1], idB, "CHAT_MESSAGE", bob), func(e statusgolog.Entry) bool {
			return e.Kind == statusgolog.Received && e.MessageID == idB
		}},
	}
	for _, c := range cases {
		line := render(t, logwriter.Logfmt, c.entry)
		e, res, err := parse(t, line)
		if res != statusgolog.Relevant || err != nil || e.Format != statusgolog.Logfmt || !e.Time.Equal(sec) || !c.check(e) {
			t.Fatalf("%s: %v %v %+v (time %v, want %v) for\n%s", c.name, res, err, e, e.Time, sec, line)
		}
	}
	// The line the desktop wrote when its database closed under mvds: a
	// status-go line, of no interest.
	e, res, err := parse(t, []byte(`t=2023-05-12T19:47:09+0200 lvl=eror msg="error while mapping sync state" namespace=mvds error="sql: database is closed"`))
	if res != statusgolog.OtherLine || err != nil || e.Format != statusgolog.Logfmt || !e.Time.Equal(time.Date(2023, 5, 12, 17, 47, 9, 0, time.UTC)) {
		t.Fatalf("%v %v %+v", res, err, e)
	}
}

func TestEveryPre2024NameIsRead(t *testing.T) {
	cases := map[string]statusgolog.Kind{
		logwriter.LegacyPrivate:        statusgolog.SentPrivate,
		logwriter.LegacyPrivateRaw:     statusgolog.SentPrivateRaw,
		logwriter.LegacySkipEncryption: statusgolog.SentPrivateRaw,
		logwriter.LegacyCommunity:      statusgolog.SentCommunity,
		logwriter.LegacyPublic:         statusgolog.SentPublic,
	}
	for _, f := range formats {
		for name, kind := range cases {
			line := render(t, f.f, logwriter.LegacySent(at, name, idA, someHashe[0]))
			e, res, err := parse(t, line)
			if res != statusgolog.Relevant || err != nil || e.Kind != kind || e.MessageID != idA || !e.Legacy || e.Incomplete != "" || e.ContentType != "" {
				t.Fatalf("%s %q: %v %v %+v", f.name, name, res, err, e)
			}
		}
	}
	// The current names are not legacy.
	e, _, _ := parse(t, render(t, logwriter.Geth, logwriter.SentPublic(at, nil, idA, "CHAT_MESSAGE", someHashe)))
	if e.Legacy || e.Kind != statusgolog.SentPublic {
		t.Fatalf("%+v", e)
	}
}

func TestAWarningThatStartsLikeALineOfInterestIsAnotherLine(t *testing.T) {
	for _, line := range []string{
		"WARN [10-23|14:03:41.305|github.com/status-im/status-go/wakuv2/waku.go:1741] could not write on connection changed channel",
		"WARN [10-23|14:03:41.305|x.go:1] connection changed channel is full  online=maybe",
		"ERROR[10-23|14:03:41.305|x.go:1] sent private messages                    error=\"context canceled\"",
		"2024-10-23T14:03:41.305Z\tWARN\tconnection changed\t{\"online\": \"x\"}",
		`{"level":"error","ts":1729692221.305,"msg":"sent private messages","messageIDs":"oops"}`,
		`t=2024-10-23T16:03:41+0200 lvl=warn msg="connection changed" online=perhaps`,
	} {
		e, res, err := parse(t, []byte(line))
		if res != statusgolog.OtherLine || err != nil || e.Kind != statusgolog.Other {
			t.Fatalf("%q: %v %v %+v", line, res, err, e)
		}
	}
}

func TestEditorLineNumbersBeforeAnEntryAreStripped(t *testing.T) {
	good := string(render(t, logwriter.Geth, logwriter.DatasyncAck(at, "00", idA)))
	for _, prefix := range []string{"12 ", "   12\t", "1234: ", "7 | ", "12  alice-1  | "} {
		e, res, err := parse(t, []byte(prefix+good))
		wantSource := ""
		if strings.Contains(prefix, "alice") {
			wantSource = "alice-1"
		}
		if res != statusgolog.Relevant || err != nil || e.MessageID != idA || string(e.Source) != wantSource {
			t.Fatalf("%q: %v %v source %q", prefix, res, err, e.Source)
		}
	}
	// A zap console line starts with digits of its own.
	zap := render(t, logwriter.ZapConsole, logwriter.DatasyncAck(at, "00", idA))
	if e, res, err := parse(t, zap); res != statusgolog.Relevant || err != nil || !e.Time.Equal(at) {
		t.Fatalf("%v %v %+v", res, err, e)
	}
	// Digits before something that is no entry stay.
	if _, res, _ := parse(t, []byte("12 hello")); res != statusgolog.NotLog {
		t.Fatal(res)
	}
}

func TestTheFileTimeGivesTheYearOfGethTimestamps(t *testing.T) {
	line := func(ts string) []byte {
		return []byte("DEBUG[" + ts + "|x.go:1] connection changed online=true force=false")
	}
	var e statusgolog.Entry
	// A log of July 2024, written to until July 12th.
	p := statusgolog.NewParserEndingAt(time.Date(2024, 7, 12, 9, 0, 0, 0, time.UTC))
	if _, err := p.Parse(line("07-11|10:00:00.000"), &e); err != nil || e.Time.Year() != 2024 {
		t.Fatalf("%v %v", err, e.Time)
	}
	// A log begun in December and last written in January.
	p = statusgolog.NewParserEndingAt(time.Date(2025, 1, 2, 9, 0, 0, 0, time.UTC))
	for i, c := range []struct {
		ts   string
		year int
	}{{"12-31|23:00:00.000", 2024}, {"01-01|01:00:00.000", 2025}} {
		if _, err := p.Parse(line(c.ts), &e); err != nil || e.Time.Year() != c.year {
			t.Fatalf("line %d: %v %v", i, err, e.Time)
		}
	}
}

func TestAnEmptyIDListAndAnUnusableReceiveAreNoError(t *testing.T) {
	for _, line := range []string{
		"DEBUG[10-23|14:03:41.305|x.go:1] sent private messages                    messageIDs=[] hashes=[0xab]",
		`t=2023-05-12T19:47:09+0200 lvl=dbug msg="sent private messages" messageIDs=[] hash=0xab`,
		`{"level":"debug","ts":1729692221.305,"msg":"sent private messages","messageIDs":[]}`,
	} {
		e, res, err := parse(t, []byte(line))
		if res != statusgolog.Relevant || err != nil || e.Kind != statusgolog.DatasyncSent || len(e.MessageIDs) != 0 {
			t.Fatalf("%q: %v %v %+v", line, res, err, e)
		}
	}
	// The imported-archive path logs a transport id, not a message id.
	e, res, err := parse(t, []byte("DEBUG[10-23|14:03:41.305|x.go:1] processing message                       message-id=abc"))
	if res != statusgolog.OtherLine || err != nil || e.Kind != statusgolog.Other {
		t.Fatalf("%v %v %+v", res, err, e)
	}
}
