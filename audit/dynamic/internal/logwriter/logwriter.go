// Package logwriter renders log entries the way status-go's releases write
// them — geth's terminal format with zap fields forwarded to it (2024), zap's
// console and JSON encodings (later) — so that the runtime audit's fixtures,
// tests and benchmark input are produced by the same rules as real logs
// rather than typed by hand. The zap formats are rendered by zap's own
// encoders with status-go's encoder configurations; the geth format follows
// geth's TerminalFormat and status-go's zap-to-geth adapter field by field.
//
// It knows log formats only; it must not know the audit.
package logwriter

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Entry is one log call.
type Entry struct {
	Time    time.Time
	Level   zapcore.Level
	Logger  string // zap logger name; geth's format does not show it
	Caller  string // "import/path/file.go:line"
	Message string
	Fields  []zap.Field
}

// Writer renders entries in one format.
type Writer interface {
	Write(e Entry) error
}

// Format names a rendering.
type Format string

// The formats.
const (
	Geth       Format = "geth"
	GethColor  Format = "geth-color"
	ZapConsole Format = "zap-console"
	ZapJSON    Format = "zap-json"
	// Logfmt is geth's logfmt format with local times to the second, as
	// status-go's desktop builds wrote their log file in 2023.
	Logfmt Format = "logfmt"
)

// New returns a writer of format f on w.
func New(f Format, w io.Writer) (Writer, error) {
	switch f {
	case Geth:
		return &GethWriter{w: w}, nil
	case GethColor:
		return &GethWriter{w: w, Color: true}, nil
	case ZapConsole:
		return NewZap(w, false), nil
	case ZapJSON:
		return NewZap(w, true), nil
	case Logfmt:
		return &LogfmtWriter{w: w, Zone: time.FixedZone("", 2*3600)}, nil
	}
	return nil, fmt.Errorf("unknown log format %q (want geth, geth-color, zap-console, zap-json or logfmt)", f)
}

// LogfmtWriter writes geth's LogfmtFormat: t, lvl and msg, then the fields
// quoted as geth's terminal format quotes them.
type LogfmtWriter struct {
	w    io.Writer
	Zone *time.Location // the desktop's local time
	buf  bytes.Buffer
}

// Write renders e as one line.
func (l *LogfmtWriter) Write(e Entry) error {
	b := &l.buf
	b.Reset()
	lvl := map[zapcore.Level]string{zapcore.DebugLevel: "dbug", zapcore.InfoLevel: "info", zapcore.WarnLevel: "warn", zapcore.ErrorLevel: "eror"}[e.Level]
	if lvl == "" {
		lvl = "crit"
	}
	fmt.Fprintf(b, "t=%s lvl=%s msg=%s", e.Time.In(l.Zone).Format("2006-01-02T15:04:05-0700"), lvl, logfmtValue(e.Message))
	args := gethArgs(e.Fields)
	for i := 0; i+1 < len(args); i += 2 {
		b.WriteByte(' ')
		b.WriteString(args[i])
		b.WriteByte('=')
		b.WriteString(args[i+1])
	}
	b.WriteByte('\n')
	_, err := l.w.Write(b.Bytes())
	return err
}

// logfmtValue quotes a message as geth's logfmt does: always when it holds
// a space, '=' or a quote.
func logfmtValue(s string) string {
	if s == "" {
		return `""`
	}
	return escape(s)
}

// GethWriter writes geth's terminal format with origins, as status-go's
// OverrideRootLog sets it up (log.PrintOrigins(true), UTC times).
type GethWriter struct {
	w     io.Writer
	Color bool
	// align is the longest location printed so far: geth pads every
	// location to it, so the padding grows during a run.
	align int
	buf   bytes.Buffer
}

// NewGeth returns a geth terminal-format writer.
func NewGeth(w io.Writer) *GethWriter { return &GethWriter{w: w} }

// termMsgJust is geth's message width when fields follow.
const termMsgJust = 40

func gethLevel(l zapcore.Level) (string, int) {
	switch l {
	case zapcore.DebugLevel:
		return "DEBUG", 36
	case zapcore.InfoLevel:
		return "INFO ", 32
	case zapcore.WarnLevel:
		return "WARN ", 33
	case zapcore.ErrorLevel:
		return "ERROR", 31
	}
	return "CRIT ", 35
}

// Write renders e as one line.
func (g *GethWriter) Write(e Entry) error {
	b := &g.buf
	b.Reset()
	lvl, color := gethLevel(e.Level)
	if !g.Color {
		color = 0
	}
	loc := strings.TrimPrefix(e.Caller, "github.com/ethereum/go-ethereum/")
	if len(loc) > g.align {
		g.align = len(loc)
	}
	if color > 0 {
		fmt.Fprintf(b, "\x1b[%dm%s\x1b[0m", color, lvl)
	} else {
		b.WriteString(lvl)
	}
	fmt.Fprintf(b, "[%s|%s]%s %s ", e.Time.UTC().Format("01-02|15:04:05.000"), loc, strings.Repeat(" ", g.align-len(loc)), e.Message)
	args := gethArgs(e.Fields)
	if n := utf8.RuneCountInString(e.Message); len(args) > 0 && n < termMsgJust {
		b.WriteString(strings.Repeat(" ", termMsgJust-n))
	}
	for i := 0; i+1 < len(args); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		if color > 0 {
			fmt.Fprintf(b, "\x1b[%dm%s\x1b[0m=", color, args[i])
		} else {
			b.WriteString(args[i])
			b.WriteByte('=')
		}
		b.WriteString(args[i+1])
	}
	b.WriteByte('\n')
	_, err := g.w.Write(b.Bytes())
	return err
}

// gethArgs turns zap fields into geth's key and formatted value, as
// status-go's adapter forwards them and geth's logfmt prints them.
func gethArgs(fields []zap.Field) []string {
	var out []string
	for _, f := range fields {
		var v string
		switch f.Type {
		case zapcore.StringType:
			v = escape(f.String)
		case zapcore.BoolType:
			v = strconv.FormatBool(f.Integer == 1)
		case zapcore.DurationType:
			v = escape(time.Duration(f.Integer).String())
		case zapcore.Int64Type, zapcore.Int32Type, zapcore.Int16Type, zapcore.Int8Type:
			v = thousands(f.Integer)
		case zapcore.StringerType:
			v = escape(f.Interface.(fmt.Stringer).String())
		case zapcore.ErrorType:
			v = escape(f.Interface.(error).Error())
		case zapcore.ArrayMarshalerType, zapcore.ReflectType:
			v = escape(fmt.Sprintf("%+v", f.Interface))
		case zapcore.NamespaceType:
			out = append(out, "namespace", escape(f.Key))
			continue
		default:
			v = escape(fmt.Sprintf("%+v", f.Interface))
		}
		out = append(out, f.Key, v)
	}
	return out
}

// escape quotes a value that holds anything at or below '"', above '~', or
// '=' — geth's rule.
func escape(s string) string {
	for _, r := range s {
		if r <= '"' || r > '~' || r == '=' {
			return strconv.Quote(s)
		}
	}
	return s
}

// thousands prints integers of 100000 and more with comma separators, as
// geth does.
func thousands(n int64) string {
	if n < 100000 && n > -100000 {
		return strconv.FormatInt(n, 10)
	}
	s := strconv.FormatInt(n, 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Zap writes with zap's encoders: the console encoding with status-go's
// later default (development encoder config, times in UTC, short callers)
// or the JSON encoding with zap's production encoder config.
type Zap struct {
	w   io.Writer
	enc zapcore.Encoder
}

// NewZap returns a zap writer: JSON when json is set, console otherwise.
func NewZap(w io.Writer, json bool) *Zap {
	if json {
		cfg := zap.NewProductionEncoderConfig()
		return &Zap{w: w, enc: zapcore.NewJSONEncoder(cfg)}
	}
	cfg := zap.NewDevelopmentEncoderConfig()
	inner := cfg.EncodeTime
	cfg.EncodeTime = func(t time.Time, enc zapcore.PrimitiveArrayEncoder) { inner(t.UTC(), enc) }
	return &Zap{w: w, enc: zapcore.NewConsoleEncoder(cfg)}
}

// Write renders e as one line.
func (z *Zap) Write(e Entry) error {
	ent := zapcore.Entry{Level: e.Level, Time: e.Time, LoggerName: e.Logger, Message: e.Message}
	if i := strings.LastIndexByte(e.Caller, ':'); i > 0 {
		line, err := strconv.Atoi(e.Caller[i+1:])
		if err == nil {
			ent.Caller = zapcore.NewEntryCaller(0, e.Caller[:i], line, true)
		}
	}
	buf, err := z.enc.EncodeEntry(ent, e.Fields)
	if err != nil {
		return err
	}
	defer buf.Free()
	_, err = z.w.Write(buf.Bytes())
	return err
}
