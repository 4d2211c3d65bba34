package dynamic

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mvdsguard/mvdsguard/audit/dynamic/statusgolog"
)

// MaxLine is the longest line the Reader reads; longer lines are counted as
// too long and skipped. It is also the Reader's buffer, most of its memory.
const MaxLine = 1 << 20

// Reasons a line is not understood, as InputStats.Unread counts them.
const (
	UnreadNotLog      = "not-a-log-line"
	UnreadBinary      = "binary"
	UnreadTooLong     = "too-long"
	UnreadMalformed   = "malformed"
	UnreadBadRecord   = "bad-record"
	UnreadUnsupported = "unsupported-version"
)

// maxSamples bounds the unread lines a report quotes, maxNames the field
// names and sources it lists.
const (
	maxSamples = 20
	maxNames   = 20
)

// Read streams in line by line into rec: status-go log lines in any of its
// formats and JSON Lines records, mixed freely (interleaved processes are
// told apart by the label before each entry). name is how evidence names the
// input. Memory is constant: one buffer of MaxLine bytes plus the
// Recorder's bounded state. A line it does not understand is counted and
// sampled, never fatal; the error is only for reading (or ctx), and the
// stats then say how far the input was read.
func Read(ctx context.Context, in io.Reader, name string, rec *Recorder) (*InputStats, error) {
	year := rec.cfg.Year
	if year == 0 {
		year = time.Now().UTC().Year()
	}
	rd := &reader{
		name:     name,
		rec:      rec,
		parser:   statusgolog.NewParser(year),
		stats:    &InputStats{Name: name, StatusGo: map[string]int64{}, Unread: map[string]int64{}},
		interned: map[string]string{},
	}
	br := bufio.NewReaderSize(in, MaxLine)
	for {
		if rd.stats.Lines&4095 == 0 {
			if err := ctx.Err(); err != nil {
				rd.stats.Err = err.Error()
				return rd.stats, fmt.Errorf("read %s: stopped at line %d: %w", name, rd.stats.Lines, err)
			}
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			rd.tooLong(line)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				rd.stats.Bytes += int64(len(line))
			}
		} else if len(line) > 0 {
			rd.line(line)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			rd.stats.Err = err.Error()
			return rd.stats, fmt.Errorf("read %s after line %d: %w", name, rd.stats.Lines, err)
		}
	}
	rd.flush()
	return rd.stats, nil
}

type reader struct {
	name     string
	rec      *Recorder
	parser   *statusgolog.Parser
	stats    *InputStats
	entry    statusgolog.Entry
	advanced time.Time // the last time handed to the Recorder
	pending  time.Time // the latest line time not handed yet
	interned map[string]string
	lastSrc  string
}

// advanceEvery throttles how often lines without records move the
// Recorder's clock; records move it themselves.
const advanceEvery = 100 * time.Millisecond

func (rd *reader) tick(t time.Time) {
	if t.After(rd.pending) {
		rd.pending = t
	}
	if rd.pending.Sub(rd.advanced) >= advanceEvery {
		rd.flush()
	}
}

func (rd *reader) flush() {
	if rd.pending.After(rd.advanced) {
		rd.rec.Advance(rd.pending)
		rd.advanced = rd.pending
	}
}

func (rd *reader) tooLong(head []byte) {
	rd.stats.Lines++
	rd.stats.Bytes += int64(len(head))
	rd.unread(UnreadTooLong, fmt.Sprintf("longer than %d bytes", MaxLine), head[:min(len(head), 80)])
}

func (rd *reader) unread(reason, detail string, line []byte) {
	rd.stats.Unread[reason]++
	if len(rd.stats.Samples) < maxSamples {
		rd.stats.Samples = append(rd.stats.Samples, LineSample{Line: rd.stats.Lines, Reason: reason, Detail: detail, Text: printable(line)})
	}
}

func (rd *reader) line(line []byte) {
	rd.stats.Lines++
	rd.stats.Bytes += int64(len(line))
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	switch {
	case len(bytes.TrimSpace(line)) == 0:
		rd.stats.Empty++
		return
	case line[0] == ' ' || line[0] == '\t':
		rd.stats.Continuation++
		return
	case bytes.HasPrefix(line, []byte(`{"v":`)):
		rd.record(line)
		return
	}
	res, err := rd.parser.Parse(line, &rd.entry)
	e := &rd.entry
	switch res {
	case statusgolog.NotLog:
		switch {
		case bytes.IndexByte(line, 0) >= 0 || !utf8.Valid(line):
			rd.unread(UnreadBinary, "not text", line)
		case line[0] == '{':
			rd.record(line)
		case prefixedContinuation(line):
			rd.stats.Continuation++
		default:
			rd.unread(UnreadNotLog, "in none of status-go's log formats", line)
		}
		return
	case statusgolog.OtherLine:
		rd.stats.StatusGo[e.Format.String()]++
		rd.tick(e.Time)
		return
	}
	rd.tick(e.Time)
	if err != nil {
		rd.unread(UnreadMalformed, fmt.Sprintf("%s line: %v", e.Kind, err), line)
		return
	}
	rd.stats.StatusGo[e.Format.String()]++
	rd.stats.Used++
	if e.Incomplete != "" {
		rd.stats.UsedIncomplete++
	}
	rd.use(e, line)
}

// record reads a JSON Lines record.
func (rd *reader) record(line []byte) {
	r, unknown, err := ParseRecord(line)
	if len(unknown) > 0 {
		rd.stats.UnknownFields++
		for _, n := range unknown {
			if len(rd.stats.UnknownFieldList) < maxNames && !contains(rd.stats.UnknownFieldList, n) {
				rd.stats.UnknownFieldList = append(rd.stats.UnknownFieldList, n)
			}
		}
	}
	switch {
	case errors.Is(err, ErrNotRecord):
		rd.unread(UnreadNotLog, "JSON, but neither a record nor a zap line", line)
		return
	case errors.Is(err, ErrUnsupportedVersion):
		rd.unread(UnreadUnsupported, err.Error(), line)
		return
	case err != nil:
		rd.unread(UnreadBadRecord, err.Error(), line)
		return
	}
	rd.stats.Records++
	r.Node = rd.intern([]byte(r.Node))
	r.Evidence = Evidence{Input: rd.name, Line: rd.stats.Lines, Text: Clip(printable(line))}
	if err := rd.rec.Add(r); err != nil && !errors.Is(err, ErrFinished) {
		// ParseRecord validated it; count it anyway rather than lose it.
		rd.stats.Records--
		rd.unread(UnreadBadRecord, err.Error(), line)
	}
}

// use turns a status-go line into records.
func (rd *reader) use(e *statusgolog.Entry, line []byte) {
	node := rd.intern(e.Source)
	base := Record{At: e.Time, Node: node, Attempts: -1,
		Evidence: Evidence{Input: rd.name, Line: rd.stats.Lines, Text: Clip(printable(line))}}
	switch e.Kind {
	case statusgolog.SentPrivate, statusgolog.SentPrivateRaw, statusgolog.SentCommunity, statusgolog.SentPublic:
		r := base
		r.Kind, r.ID, r.Type = KindSend, e.MessageID, e.ContentType
		r.Via = map[statusgolog.Kind]Via{statusgolog.SentPrivate: ViaPrivate, statusgolog.SentPrivateRaw: ViaPrivateRaw,
			statusgolog.SentCommunity: ViaCommunity, statusgolog.SentPublic: ViaPublic}[e.Kind]
		if len(e.Recipients) > 0 {
			r.Peers = append([]string(nil), e.Recipients...)
		}
		rd.add(r)
	case statusgolog.DatasyncSent:
		for _, id := range e.MessageIDs {
			r := base
			r.Kind, r.ID, r.Via = KindAttempt, id, ViaMVDS
			rd.add(r)
		}
	case statusgolog.DatasyncAck:
		r := base
		r.Kind, r.ID = KindDelivered, e.MessageID
		rd.add(r)
	case statusgolog.ConnectionChanged:
		r := base
		r.Kind, r.Online, r.Wake = KindConnectivity, e.Online, e.Force && e.Online
		rd.add(r)
	}
}

func (rd *reader) add(r Record) {
	if err := rd.rec.Add(r); err == nil && r.At.After(rd.advanced) {
		rd.advanced = r.At
	}
}

// intern returns one string per distinct label, so that a node's name is
// allocated once however many lines carry it.
func (rd *reader) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if string(b) == rd.lastSrc {
		return rd.lastSrc
	}
	s, ok := rd.interned[string(b)]
	if !ok {
		s = string(b)
		if len(rd.interned) < 1024 {
			rd.interned[s] = s
		}
		rd.source(s)
	}
	rd.lastSrc = s
	return s
}

func (rd *reader) source(s string) {
	if contains(rd.stats.Sources, s) {
		return
	}
	if len(rd.stats.Sources) < maxNames {
		rd.stats.Sources = append(rd.stats.Sources, s)
	} else if rd.stats.SourcesMore < 1<<20 {
		rd.stats.SourcesMore++
	}
}

// printable returns line as text a report can quote: valid UTF-8 without
// control characters is kept, anything else is Go-quoted.
func printable(line []byte) string {
	line = line[:min(len(line), 4*MaxEvidence)]
	ok := utf8.Valid(line)
	for _, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			ok = false
			break
		}
	}
	if ok {
		return string(line)
	}
	return strconv.QuoteToASCII(string(line))
}

// prefixedContinuation reports an indented line behind a collector's label
// ("bob-1  | \tgoroutine 7 [running]:"): part of the entry before it.
func prefixedContinuation(line []byte) bool {
	i := bytes.Index(line[:min(len(line), 96)], []byte("| "))
	if i <= 0 || bytes.IndexByte(line[:i], ' ') == 0 {
		return false
	}
	rest := line[i+2:]
	return len(rest) > 0 && (rest[0] == '\t' || rest[0] == ' ')
}
