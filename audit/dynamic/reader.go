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
// told apart by the label before each entry, but share rec's clock). name
// is how evidence names the input. Memory is constant: one buffer of
// MaxLine bytes plus the Recorder's bounded state. A line it does not
// understand is counted and sampled, never fatal; the error is only for
// reading (or ctx), and the stats then say how far the input was read.
// Fleet.Read reads the logs of many nodes, each judged by its own clock.
func Read(ctx context.Context, in io.Reader, name string, rec *Recorder) (*InputStats, error) {
	t := &target{rec: rec}
	return read(ctx, in, Input{Name: name}, rec.cfg.Year, func(string) *target { return t })
}

// Input describes one log file for Fleet.Read.
type Input struct {
	// Name is how evidence names the input: its path, "-" for standard
	// input.
	Name string
	// Node is the node its unlabelled lines and records belong to; a label
	// before a line ("alice-1  | ") or a record's node names another.
	Node string
	// Year is the year of its first geth timestamp (geth prints none), with
	// YearFrom saying where it came from ("-year"). When 0 the
	// configuration's year is taken, else Modified's, else the current
	// year.
	Year     int
	YearFrom string
	// Modified is when the file was last written, zero if unknown.
	Modified time.Time
}

// parser returns the input's geth parser and says where its year comes
// from.
func (in Input) parser(cfgYear int) (*statusgolog.Parser, int, string) {
	switch {
	case in.Year != 0:
		from := in.YearFrom
		if from == "" {
			from = "given"
		}
		return statusgolog.NewParser(in.Year), in.Year, from
	case cfgYear != 0:
		return statusgolog.NewParser(cfgYear), cfgYear, "configuration"
	case !in.Modified.IsZero():
		return statusgolog.NewParserEndingAt(in.Modified), in.Modified.UTC().Year(), "file modified " + in.Modified.UTC().Format("2006-01-02")
	}
	y := time.Now().UTC().Year()
	return statusgolog.NewParser(y), y, "current year (no -year and no file time)"
}

// target is where one node's records go, and how far the reader moved its
// clock.
type target struct {
	rec      *Recorder
	received *idSet    // ids of the messages the node received; nil outside a Fleet
	advanced time.Time // the last time handed to the Recorder
	pending  time.Time // the latest line time not handed yet
}

func read(ctx context.Context, in io.Reader, input Input, cfgYear int, route func(node string) *target) (*InputStats, error) {
	parser, year, yearFrom := input.parser(cfgYear)
	name := input.Name
	rd := &reader{
		name:     name,
		node:     input.Node,
		route:    route,
		targets:  map[string]*target{},
		parser:   parser,
		stats:    &InputStats{Name: name, Node: input.Node, StatusGo: map[string]int64{}, Unread: map[string]int64{}, Year: year, YearFrom: yearFrom},
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
			rd.flush()
			return rd.stats, fmt.Errorf("read %s after line %d: %w", name, rd.stats.Lines, err)
		}
	}
	rd.flush()
	if rd.stats.StatusGo[statusgolog.Geth.String()] == 0 {
		// Only geth's timestamps need the year.
		rd.stats.Year, rd.stats.YearFrom = 0, ""
	}
	return rd.stats, nil
}

type reader struct {
	name     string
	node     string // the node of unlabelled lines
	route    func(node string) *target
	targets  map[string]*target
	parser   *statusgolog.Parser
	stats    *InputStats
	entry    statusgolog.Entry
	interned map[string]string
	lastSrc  string
	last     *target // the target of lastNode
	lastNode string
	haveLast bool
}

// advanceEvery throttles how often lines without records move the
// Recorder's clock; records move it themselves.
const advanceEvery = 100 * time.Millisecond

// to returns the target of node's records.
func (rd *reader) to(node string) *target {
	if rd.haveLast && node == rd.lastNode {
		return rd.last
	}
	t := rd.targets[node]
	if t == nil {
		t = rd.route(node)
		rd.targets[node] = t
	}
	rd.last, rd.lastNode, rd.haveLast = t, node, true
	return t
}

func (rd *reader) tick(node string, at time.Time) {
	t := rd.to(node)
	if at.After(t.pending) {
		t.pending = at
	}
	if t.pending.Sub(t.advanced) >= advanceEvery {
		t.flush()
	}
}

func (t *target) flush() {
	if t.pending.After(t.advanced) {
		t.rec.Advance(t.pending)
		t.advanced = t.pending
	}
}

func (rd *reader) flush() {
	for _, t := range rd.targets {
		t.flush()
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
	case (line[0] == ' ' || line[0] == '\t') && !numbered(line):
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
		rd.tick(rd.nodeOf(e.Source), e.Time)
		return
	}
	rd.tick(rd.nodeOf(e.Source), e.Time)
	if err != nil {
		rd.unread(UnreadMalformed, fmt.Sprintf("%s line: %v", e.Kind, err), line)
		return
	}
	rd.stats.StatusGo[e.Format.String()]++
	rd.stats.Used++
	if e.Incomplete != "" {
		rd.stats.UsedIncomplete++
	}
	if e.Legacy {
		rd.stats.Legacy++
		rd.to(rd.nodeOf(e.Source)).rec.markAckBlind()
	}
	rd.use(e, line)
}

// numbered reports an indented line that starts with a number: an editor's
// line number before an entry, not a continuation.
func numbered(line []byte) bool {
	t := bytes.TrimLeft(line, " \t")
	return len(t) > 0 && t[0] >= '0' && t[0] <= '9'
}

// nodeOf names the node of a line: its label, else the input's node.
func (rd *reader) nodeOf(label []byte) string {
	if len(label) == 0 {
		return rd.node
	}
	return rd.intern(label)
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
	r.Node = rd.nodeOf([]byte(r.Node))
	r.Evidence = Evidence{Input: rd.name, Line: rd.stats.Lines, Text: Clip(printable(line))}
	t := rd.to(r.Node)
	if r.Kind == KindReceipt && t.received != nil {
		t.received.add(r.ID)
	}
	if err := t.rec.Add(r); err != nil && !errors.Is(err, ErrFinished) {
		// ParseRecord validated it; count it anyway rather than lose it.
		rd.stats.Records--
		rd.unread(UnreadBadRecord, err.Error(), line)
	}
}

// use turns a status-go line into records.
func (rd *reader) use(e *statusgolog.Entry, line []byte) {
	node := rd.nodeOf(e.Source)
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
	case statusgolog.Received:
		// Not a receipt: status-go logs it before dropping duplicates, so
		// it says the node got the message, not that its application was
		// handed it once. It only tells other nodes' logs what arrived.
		if t := rd.to(node); t.received != nil {
			t.received.add(e.MessageID)
		}
	}
}

func (rd *reader) add(r Record) {
	t := rd.to(r.Node)
	if err := t.rec.Add(r); err == nil && r.At.After(t.advanced) {
		t.advanced = r.At
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
