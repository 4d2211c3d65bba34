package mvds

import (
	"errors"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// sentinelFilter drops the one line mvds logs for every packet because of the
// engine's end-of-packet marker ("Error processing message" with
// errSentinel); everything else passes through unchanged.
type sentinelFilter struct{ zapcore.Core }

func filterSentinel(l *zap.Logger) *zap.Logger {
	return l.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return sentinelFilter{c} }))
}

func (f sentinelFilter) With(fields []zapcore.Field) zapcore.Core {
	return sentinelFilter{f.Core.With(fields)}
}

func (f sentinelFilter) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if f.Enabled(e.Level) {
		return ce.AddCore(e, f)
	}
	return ce
}

func (f sentinelFilter) Write(e zapcore.Entry, fields []zapcore.Field) error {
	for _, fl := range fields {
		if err, ok := fl.Interface.(error); ok && fl.Type == zapcore.ErrorType && errors.Is(err, errSentinel) {
			return nil
		}
	}
	return f.Core.Write(e, fields)
}
