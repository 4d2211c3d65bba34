package statusgolog

import (
	"strconv"
	"time"
)

// Timestamps are converted by hand: every line's time is read (the audit's
// clock advances with every line, not just the ones it uses), and calendar
// arithmetic on digits is several times cheaper than time.Parse.

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

var monthDays = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// clockMillis converts a date and time of day to unix milliseconds, checking
// ranges (a leap second reads as 60, as Go's parser allows).
func clockMillis(y, mo, d, h, mi, s, ms int) (int64, bool) {
	if mo < 1 || mo > 12 || d < 1 || d > monthDays[mo] || h > 23 || mi > 59 || s > 60 || ms > 999 {
		return 0, false
	}
	if mo == 2 && d == 29 && !(y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		return 0, false
	}
	days := daysFromCivil(y, mo, d)
	return ((days*24+int64(h))*60+int64(mi))*60000 + int64(s)*1000 + int64(ms), true
}

// gethTime reads geth's "MM-DD|hh:mm:ss.mmm" (UTC, no year).
func (p *Parser) gethTime(b []byte) (time.Time, bool) {
	if len(b) != 18 || b[2] != '-' || b[5] != '|' || b[8] != ':' || b[11] != ':' || b[14] != '.' {
		return time.Time{}, false
	}
	mo, ok1 := digits(b[0:2])
	d, ok2 := digits(b[3:5])
	h, ok3 := digits(b[6:8])
	mi, ok4 := digits(b[9:11])
	s, ok5 := digits(b[12:14])
	ms, ok6 := digits(b[15:18])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	if p.lastMonth == 0 && !p.end.IsZero() && (mo > int(p.end.Month()) || mo == int(p.end.Month()) && d > p.end.Day()) {
		// The first line's day comes after the day the file was last
		// written: it was written the year before.
		p.year = p.end.Year() - 1
	}
	year := p.year
	switch {
	case p.lastMonth == 0:
		p.lastMonth = mo
	case p.lastMonth-mo > 6:
		// December to January: a new year.
		p.year++
		year = p.year
		p.lastMonth = mo
	case mo-p.lastMonth > 6:
		// A late line of the previous year, interleaved after January's.
		year--
	default:
		p.lastMonth = max(p.lastMonth, mo)
	}
	if mo == 2 && d == 29 && !(year%4 == 0 && (year%100 != 0 || year%400 == 0)) {
		// Only a leap year has the 29th; the configured year must be wrong.
		// Keep the line's order rather than rejecting it.
		d = 28
	}
	ms64, ok := clockMillis(year, mo, d, h, mi, s, ms)
	if !ok {
		return time.Time{}, false
	}
	return time.UnixMilli(ms64).UTC(), true
}

// isoTime reads zap's ISO 8601 time, "2006-01-02T15:04:05.000Z0700": a
// fraction of any length, then "Z", "±hhmm" or "±hh:mm", or nothing (UTC).
// It returns the time and how many bytes it used.
func isoTime(b []byte) (time.Time, int, bool) {
	if !isoDate(b) {
		return time.Time{}, 0, false
	}
	y, _ := digits(b[0:4])
	if y < 1970 {
		// No status-go log predates the epoch; a year 0000 is a garbled
		// line, not an entry.
		return time.Time{}, 0, false
	}
	mo, _ := digits(b[5:7])
	d, _ := digits(b[8:10])
	h, _ := digits(b[11:13])
	mi, _ := digits(b[14:16])
	s, _ := digits(b[17:19])
	i := 19
	ms := 0
	if i < len(b) && (b[i] == '.' || b[i] == ',') {
		i++
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if n < 3 {
				ms = ms*10 + int(b[i]-'0')
			}
			n++
			i++
		}
		if n == 0 {
			return time.Time{}, 0, false
		}
		for ; n < 3; n++ {
			ms *= 10
		}
	}
	offset := 0
	if i < len(b) {
		switch b[i] {
		case 'Z':
			i++
		case '+', '-':
			sign := 1
			if b[i] == '-' {
				sign = -1
			}
			rest := b[i+1:]
			var oh, om int
			var ok1, ok2 bool
			switch {
			case len(rest) >= 5 && rest[2] == ':':
				oh, ok1 = digits(rest[0:2])
				om, ok2 = digits(rest[3:5])
				i += 6
			case len(rest) >= 4:
				oh, ok1 = digits(rest[0:2])
				om, ok2 = digits(rest[2:4])
				i += 5
			}
			if !ok1 || !ok2 || oh > 23 || om > 59 {
				return time.Time{}, 0, false
			}
			offset = sign * (oh*60 + om) * 60000
		}
	}
	t, ok := clockMillis(y, mo, d, h, mi, s, ms)
	if !ok {
		return time.Time{}, 0, false
	}
	return time.UnixMilli(t - int64(offset)).UTC(), i, true
}

// epochTime reads a JSON number of seconds since the epoch, as zap's
// EpochTimeEncoder writes it ("1732100000.123456"); numbers beyond the year
// 5138 in seconds are taken as milliseconds, then nanoseconds.
func epochTime(b []byte) (time.Time, bool) {
	if len(b) == 0 {
		return time.Time{}, false
	}
	var sec, frac, scale int64 = 0, 0, 1
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if sec > 1<<53 {
			return time.Time{}, false
		}
		sec = sec*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return time.Time{}, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if scale < 1e9 {
				frac = frac*10 + int64(b[i]-'0')
				scale *= 10
			}
		}
	}
	if i != len(b) {
		// Exponent notation: rare, take the slow path.
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || f < 0 || f > 1e19 {
			return time.Time{}, false
		}
		return fromEpochFloat(f), true
	}
	switch {
	case sec > 1e17:
		return time.Unix(0, sec).UTC(), true
	case sec > 1e14:
		return time.UnixMicro(sec).UTC(), true
	case sec > 1e11:
		return time.UnixMilli(sec).UTC(), true
	}
	return time.Unix(sec, frac*(1e9/scale)).UTC(), true
}

func fromEpochFloat(f float64) time.Time {
	switch {
	case f > 1e17:
		return time.Unix(0, int64(f)).UTC()
	case f > 1e14:
		return time.UnixMicro(int64(f)).UTC()
	case f > 1e11:
		return time.UnixMilli(int64(f)).UTC()
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
}
