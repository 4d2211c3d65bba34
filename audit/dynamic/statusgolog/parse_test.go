package statusgolog_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/dynamic/internal/logwriter"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/statusgolog"
)

var (
	rnd       = rand.New(rand.NewPCG(3, 4))
	at        = time.Date(2024, 10, 23, 14, 3, 41, 305e6, time.UTC)
	bob       = logwriter.PubKey(rnd)
	carol     = logwriter.PubKey(rnd)
	idA, idB  = logwriter.Hex(rnd, 32), logwriter.Hex(rnd, 32)
	someHashe = []string{logwriter.Hex(rnd, 32), logwriter.Hex(rnd, 32)}
)

func render(t testing.TB, f logwriter.Format, e logwriter.Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := logwriter.New(f, &b)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(e); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

var formats = []struct {
	name string
	f    logwriter.Format
	want statusgolog.Format
}{
	{"geth", logwriter.Geth, statusgolog.Geth},
	{"geth-color", logwriter.GethColor, statusgolog.Geth},
	{"zap-console", logwriter.ZapConsole, statusgolog.ZapConsole},
	{"zap-json", logwriter.ZapJSON, statusgolog.ZapJSON},
}

func parse(t testing.TB, line []byte) (statusgolog.Entry, statusgolog.Result, error) {
	t.Helper()
	var e statusgolog.Entry
	res, err := statusgolog.NewParser(2024).Parse(line, &e)
	return e, res, err
}

func TestEveryLineOfInterestIsReadInEveryFormat(t *testing.T) {
	cases := []struct {
		name  string
		entry logwriter.Entry
		check func(t *testing.T, e statusgolog.Entry)
	}{
		{"private without datasync", logwriter.SentPrivate(at, logwriter.Current, bob, idA, "ACCEPT_CONTACT_REQUEST", someHashe), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.SentPrivate && e.MessageID == idA && e.ContentType == "ACCEPT_CONTACT_REQUEST" &&
				strings.Join(e.Recipients, ",") == bob && e.Incomplete == "", e)
		}},
		{"private skipProtocolLayer", logwriter.SentPrivateRaw(at, logwriter.Current, carol, idB, "COMMUNITY_REQUEST_TO_JOIN", nil), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.SentPrivateRaw && e.MessageID == idB && e.ContentType == "COMMUNITY_REQUEST_TO_JOIN" &&
				strings.Join(e.Recipients, ",") == carol, e)
		}},
		{"early 2024 private with the raw message's recipients", logwriter.SentPrivate(at, logwriter.Early2024, bob, idA, "CHAT_MESSAGE", nil), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.SentPrivate && e.MessageID == idA && len(e.Recipients) == 0 && e.Incomplete == "", e)
		}},
		{"community to two recipients", logwriter.SentCommunity(at, []string{bob, carol}, idA, "COMMUNITY_REQUEST_TO_JOIN", someHashe), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.SentCommunity && e.MessageID == idA && strings.Join(e.Recipients, ",") == bob+","+carol, e)
		}},
		{"public", logwriter.SentPublic(at, nil, idB, "CHAT_MESSAGE", someHashe), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.SentPublic && e.MessageID == idB && e.ContentType == "CHAT_MESSAGE", e)
		}},
		{"datasync packet with two messages", logwriter.DatasyncSent(at, []string{idA, idB}, someHashe), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.DatasyncSent && strings.Join(e.MessageIDs, ",") == idA+","+idB, e)
		}},
		{"datasync packet with acks only", logwriter.DatasyncSent(at, nil, nil), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.DatasyncSent && len(e.MessageIDs) == 0, e)
		}},
		{"datasync acknowledgement", logwriter.DatasyncAck(at, "00ff", idB), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.DatasyncAck && e.MessageID == idB, e)
		}},
		{"wake from sleep", logwriter.ConnectionChanged(at, true, true), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.ConnectionChanged && e.Online && e.Force, e)
		}},
		{"offline", logwriter.ConnectionChanged(at, false, false), func(t *testing.T, e statusgolog.Entry) {
			want(t, e.Kind == statusgolog.ConnectionChanged && !e.Online && !e.Force, e)
		}},
	}
	for _, f := range formats {
		for _, c := range cases {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				line := render(t, f.f, c.entry)
				e, res, err := parse(t, line)
				if res != statusgolog.Relevant || err != nil {
					t.Fatalf("result %v, %v for\n%s", res, err, line)
				}
				if e.Format != f.want || !e.Time.Equal(at) && !(f.want == statusgolog.ZapJSON && e.Time.Sub(at).Abs() < time.Millisecond) {
					t.Fatalf("format %v time %v; want %v %v", e.Format, e.Time, f.want, at)
				}
				if len(e.Source) != 0 {
					t.Fatalf("source %q from a line without prefix", e.Source)
				}
				c.check(t, e)
			})
		}
	}
}

func want(t *testing.T, ok bool, e statusgolog.Entry) {
	t.Helper()
	if !ok {
		t.Fatalf("entry %+v", e)
	}
}

func TestOtherLinesAreRecognisedButNotRead(t *testing.T) {
	entries := []logwriter.Entry{
		logwriter.DatasyncAckUnknown(at, "00ff"), // starts like an acknowledgement
		logwriter.Noise(rnd, at), logwriter.Noise(rnd, at), logwriter.Noise(rnd, at), logwriter.Noise(rnd, at),
	}
	for _, f := range formats {
		for _, e := range entries {
			line := render(t, f.f, e)
			got, res, err := parse(t, line)
			if res != statusgolog.OtherLine || err != nil || got.Format != f.want || got.Time.IsZero() {
				t.Fatalf("%s: %v %v %+v for\n%s", f.name, res, err, got, line)
			}
		}
	}
}

func TestAPrefixBeforeTheEntryNamesTheProcess(t *testing.T) {
	for _, f := range formats {
		for _, prefix := range []string{"alice-1  | ", "[bob] ", "carol: "} {
			line := append([]byte(prefix), render(t, f.f, logwriter.DatasyncAck(at, "00", idA))...)
			e, res, err := parse(t, line)
			name := strings.Trim(prefix, " |:")
			if res != statusgolog.Relevant || err != nil || !strings.Contains(name, string(bytes.Trim(e.Source, "[]"))) || len(e.Source) == 0 {
				t.Fatalf("%s %q: %v %v source %q", f.name, prefix, res, err, e.Source)
			}
		}
	}
}

func TestGethWithoutOriginsIsRead(t *testing.T) {
	line := []byte("INFO [10-23|14:03:41.305] connection changed                       online=false force=false")
	e, res, err := parse(t, line)
	if res != statusgolog.Relevant || err != nil || e.Online || !e.Time.Equal(at) {
		t.Fatalf("%v %v %+v", res, err, e)
	}
}

func TestZapVariantsAreRead(t *testing.T) {
	lines := []string{
		// Development keys, ISO time with an offset.
		`{"L":"DEBUG","T":"2024-10-23T16:03:41.305+0200","N":"messenger","C":"protocol/messenger.go:1554","M":"connection changed","online":true,"force":false}`,
		// Production keys, ISO time with a colon in the offset.
		`{"level":"debug","ts":"2024-10-23T16:03:41.305+02:00","msg":"connection changed","online":true}`,
		// Epoch in milliseconds.
		`{"level":"debug","ts":1729692221305,"msg":"connection changed","online":true,"force":false}`,
		// An escaped message.
		`{"level":"debug","ts":1729692221.305,"msg":"connection\u0020changed","online":true,"force":false}`,
		// Console with a logger name and no caller.
		"2024-10-23T14:03:41.305Z\tDEBUG\tprotocol.messenger\tconnection changed\t{\"online\": true, \"force\": false}",
		// Console in local time, no fields beyond the one needed.
		"2024-10-23T16:03:41.305+0200\tDEBUG\tconnection changed\t{\"online\": true}",
	}
	for _, l := range lines {
		e, res, err := parse(t, []byte(l))
		if res != statusgolog.Relevant || err != nil || !e.Online || !e.Time.Equal(at) {
			t.Fatalf("%v %v %+v (%v) for\n%s", res, err, e, e.Time, l)
		}
	}
}

func TestGethTimestampsFollowTheYearAcrossNewYear(t *testing.T) {
	p := statusgolog.NewParser(2024)
	var e statusgolog.Entry
	times := []string{"12-31|23:59:59.900", "01-01|00:00:00.100", "12-31|23:59:59.950", "01-01|00:00:01.000"}
	wantYears := []int{2024, 2025, 2024, 2025}
	for i, ts := range times {
		line := "DEBUG[" + ts + "|x.go:1] connection changed online=true force=false"
		if res, err := p.Parse([]byte(line), &e); res != statusgolog.Relevant || err != nil {
			t.Fatal(res, err)
		}
		if e.Time.Year() != wantYears[i] {
			t.Fatalf("line %d (%s) read as %v; want year %d", i, ts, e.Time, wantYears[i])
		}
	}
}

func TestLinesOfInterestThatCannotBeUsedSayWhy(t *testing.T) {
	good := string(render(t, logwriter.Geth, logwriter.SentPrivate(at, logwriter.Current, bob, idA, "CHAT_MESSAGE", someHashe)))
	cut := func(s, after string, keep int) string { i := strings.Index(s, after); return s[:i+len(after)+keep] }
	cases := []struct {
		name, line, want string
	}{
		{"cut inside the id", cut(good, "messageID=0x", 10), `bad field "messageID"`},
		{"cut before the id", cut(good, "recipient=0x", 50), `bad field "recipient"`},
		{"no id at all", strings.Replace(good, "messageID=", "messageId=", 1), `missing field "messageID"`},
		{"two lines run together", good + good[strings.Index(good, "recipient"):], "appears twice"},
		{"an unterminated quote", cut(string(render(t, logwriter.Geth, logwriter.DatasyncSent(at, []string{idA, idB}, nil))), `messageIDs="[`, 5), "unterminated"},
		{"text that is not key=value", cut(good, "datasync", 0) + "   oops", "not key=value"},
		{"a bad boolean", "DEBUG[10-23|14:03:41.305|x.go:1] connection changed online=yes", `bad field "online"`},
		{"a list that is not one", "DEBUG[10-23|14:03:41.305|x.go:1] sent private messages messageIDs=0xab", `bad field "messageIDs"`},
		{"zap fields cut short", cut(string(render(t, logwriter.ZapJSON, logwriter.DatasyncAck(at, "00", idA))), `"messageID":"0x`, 8), "not a JSON object"},
		{"zap recipient of the wrong type", `{"level":"debug","ts":1,"msg":"sent-message: public message","recipient":7,"messageID":"` + idA + `"}`, `bad field "recipient"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, res, err := parse(t, []byte(c.line))
			if res != statusgolog.Relevant || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v, %v; want an error containing %q", res, err, c.want)
			}
			if !errors.Is(err, statusgolog.ErrBadField) && !errors.Is(err, statusgolog.ErrMissingField) {
				t.Fatalf("error %v wraps neither ErrBadField nor ErrMissingField", err)
			}
		})
	}
}

func TestATruncatedLineKeepsWhatItHas(t *testing.T) {
	good := string(render(t, logwriter.Geth, logwriter.SentPrivate(at, logwriter.Current, bob, idA, "CHAT_MESSAGE", someHashe)))
	line := good[:strings.Index(good, " contentType")]
	e, res, err := parse(t, []byte(line))
	if res != statusgolog.Relevant || err != nil || e.MessageID != idA || e.Incomplete != "contentType" {
		t.Fatalf("%v %v %+v", res, err, e)
	}
}

func TestWhatIsNotALogLineIsSaidSo(t *testing.T) {
	for _, l := range []string{
		"", "hello", "panic: runtime error", "\x00\x01\x02", "DEBUG[", "DEBUG[13-01|00:00:00.000|x.go:1] connection changed online=true",
		"DEBUG[10-23|25:00:00.000|x.go:1] connection changed", "DEBUG[10-23|14:03:41.305|x.go:1 no closing bracket",
		"2024-02-30T00:00:00.000Z\tDEBUG\tconnection changed", `{"level":"debug","msg":"no time"}`, `{"v":1,"kind":"send"}`,
		strings.Repeat("x", 200) + "DEBUG[10-23|14:03:41.305|x.go:1] connection changed online=true",
	} {
		if _, res, err := parse(t, []byte(l)); res != statusgolog.NotLog || err != nil {
			t.Fatalf("%q: %v %v; want NotLog", l, res, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, fm := range formats {
		for _, e := range []logwriter.Entry{
			logwriter.SentPrivate(at, logwriter.Current, bob, idA, "CHAT_MESSAGE", someHashe),
			logwriter.SentCommunity(at, []string{bob, carol}, idA, "COMMUNITY_REQUEST_TO_JOIN", someHashe),
			logwriter.DatasyncSent(at, []string{idA, idB}, someHashe),
			logwriter.DatasyncAck(at, "00", idB),
			logwriter.ConnectionChanged(at, true, true),
			logwriter.Noise(rnd, at),
		} {
			f.Add(render(f, fm.f, e))
		}
	}
	f.Add([]byte("alice-1  | DEBUG[12-31|23:59:59.999|x.go:1] sent private messages messageIDs=\"[0x1 0x2]\""))
	for _, e := range []logwriter.Entry{
		logwriter.LegacyDatasyncSent(at, []string{idA, idB}, idA),
		logwriter.LegacySent(at, logwriter.LegacyCommunity, idA, idB),
		logwriter.LegacyConnectionChanged(at, true),
		logwriter.Received(at, idA, idB, "CHAT_MESSAGE", bob),
	} {
		f.Add(render(f, logwriter.Logfmt, e))
		f.Add(render(f, logwriter.Geth, e))
	}
	f.Add([]byte(`t=2023-05-12T19:47:09+0200 lvl=eror msg="error while mapping sync state" namespace=mvds error="sql: database is closed"`))
	f.Add([]byte("  12\tWARN [10-23|14:03:41.305|x.go:1] could not write on connection changed channel"))
	f.Add([]byte(`t=2023-05-12T19:47:09+0200 lvl=dbug msg="sent private messages" messageIDs=[]`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e statusgolog.Entry
		p := statusgolog.NewParser(2024)
		res, err := p.Parse(line, &e)
		switch res {
		case statusgolog.NotLog:
			if err != nil {
				t.Fatalf("NotLog with an error: %v", err)
			}
			return
		case statusgolog.OtherLine:
			if err != nil || e.Kind != statusgolog.Other {
				t.Fatalf("other line with %v, kind %v", err, e.Kind)
			}
		case statusgolog.Relevant:
			if e.Kind == statusgolog.Other {
				t.Fatal("relevant line of kind other")
			}
		default:
			t.Fatalf("result %d", res)
		}
		if e.Time.IsZero() || e.Time.Year() < 1970 || e.Time.Year() > 10000 {
			t.Fatalf("time %v", e.Time)
		}
		if res != statusgolog.Relevant || err != nil {
			return
		}
		ids := append([]string{}, e.MessageIDs...)
		if e.MessageID != "" {
			ids = append(ids, e.MessageID)
		}
		for _, id := range ids {
			if len(id) != 66 || !strings.HasPrefix(strings.ToLower(id), "0x") {
				t.Fatalf("id %q accepted", id)
			}
		}
		switch e.Kind {
		case statusgolog.SentPrivate, statusgolog.SentPrivateRaw, statusgolog.SentCommunity, statusgolog.SentPublic, statusgolog.DatasyncAck:
			if e.MessageID == "" {
				t.Fatal("message line without an id")
			}
		}
	})
}
