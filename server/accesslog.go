package server

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// AccessLogMessage is the message of every access-log record, so a log
// handler can single out those records from the other log lines.
const AccessLogMessage = "request"

// accessEntry holds the fields of one access-log record, already
// truncated, in the order in which they are written.
type accessEntry struct {
	time     time.Time
	id       string
	method   string
	route    string
	path     string
	status   int
	bytes    int64
	duration time.Duration
	client   string
	// model is left out of the record when empty.
	model    string
	download bool
	// errorMessage is written only when hasError is set, because an
	// error's message may be empty.
	hasError     bool
	errorMessage string
}

// durationMillis returns the duration in milliseconds with microsecond
// resolution, the value of the record's duration_ms field.
func (e *accessEntry) durationMillis() float64 {
	return float64(e.duration.Microseconds()) / 1000
}

// slogRecord returns the entry as a record for a slog.Handler. It has
// no source position, because Logger.LogAttrs would look the position up
// with runtime.Callers on every request, and an access-log record's
// position would always be the same function.
func (e *accessEntry) slogRecord() slog.Record {
	// The capacity holds every attribute below, so that the slice
	// stays on the stack.
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.String("request_id", e.id),
		slog.String("method", e.method),
		slog.String("route", e.route),
		slog.String("path", e.path),
		slog.Int("status", e.status),
		slog.Int64("bytes", e.bytes),
		slog.Float64("duration_ms", e.durationMillis()),
		slog.String("client", e.client),
	)
	if e.model != "" {
		attrs = append(attrs, slog.String("model", e.model))
	}
	if e.download {
		attrs = append(attrs, slog.Bool("download", true))
	}
	if e.hasError {
		attrs = append(attrs, slog.String("error", e.errorMessage))
	}
	rec := slog.NewRecord(e.time, slog.LevelInfo, AccessLogMessage, 0)
	rec.AddAttrs(attrs...)
	return rec
}

// maxPooledRecord is the largest encoding buffer, in bytes, that
// jsonAccessLog keeps for reuse. A record is a few hundred bytes unless
// a client sends a long path or a long message is logged.
const maxPooledRecord = 16 << 10

// jsonAccessLog writes access-log records as JSON lines to w, each in
// one Write call, without going through log/slog. It is safe for
// concurrent use when w is.
type jsonAccessLog struct {
	w io.Writer
	// buffers holds *[]byte encoding buffers, so that a record costs
	// no allocation once the pool is warm.
	buffers sync.Pool
}

func newJSONAccessLog(w io.Writer) *jsonAccessLog {
	return &jsonAccessLog{w: w, buffers: sync.Pool{New: func() any {
		b := make([]byte, 0, 1024)
		return &b
	}}}
}

// write encodes e and writes it to the log's writer. A write error is
// dropped, as slog.Logger drops the errors of its handler.
func (l *jsonAccessLog) write(e *accessEntry) {
	p := l.buffers.Get().(*[]byte)
	b := appendAccessJSON((*p)[:0], e)
	l.w.Write(b)
	if cap(b) <= maxPooledRecord {
		*p = b
		l.buffers.Put(p)
	}
}

// appendAccessJSON appends e as a line that is byte for byte what
// slog.JSONHandler, with default options and no attributes added by
// Logger.With, writes for e.slogRecord() on Go 1.26.
func appendAccessJSON(b []byte, e *accessEntry) []byte {
	b = append(b, '{')
	// slog leaves a zero time out of the record.
	if !e.time.IsZero() {
		b = append(b, `"time":`...)
		b = appendJSONTime(b, e.time)
		b = append(b, ',')
	}
	b = append(b, `"level":"INFO","msg":"`+AccessLogMessage+
		`","request_id":`...)
	b = appendJSONString(b, e.id)

	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, e.route)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, e.duration.Microseconds())
	b = append(b, `,"client":`...)
	b = appendJSONString(b, e.client)

	if e.model != "" {
		b = append(b, `,"model":`...)
		b = appendJSONString(b, e.model)
	}
	if e.download {
		b = append(b, `,"download":true`...)
	}
	if e.hasError {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, e.errorMessage)
	}
	return append(b, "}\n"...)
}

// appendJSONTime appends t as slog.JSONHandler writes a record's time: a
// quoted RFC 3339 time with nanoseconds. For a year outside 0 to 9999,
// which RFC 3339 cannot express, slog writes an error string in front
// of the time, which makes the line invalid JSON, and so does this
// function.
func appendJSONTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y >= 10000 {
		b = append(b, `"!ERROR:time.Time year outside of range [0,9999]"`...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// maxExactMicros bounds the durations, in microseconds, for which
// appendMillis writes the decimal itself. Below 10^15 the quotient of
// micros/1000 has at most 15 significant digits, and every decimal of at
// most 15 digits is the shortest one that parses back to the float64
// nearest to it, so strconv's shortest formatting writes those digits.
const maxExactMicros = 1_000_000_000_000_000

// appendMillis appends float64(micros)/1000 as encoding/json writes a
// float64, which is how slog.JSONHandler writes a float attribute. The
// quotient is 0 or at least 0.001 in magnitude and below 10^16, so
// encoding/json never switches to exponent notation for it.
func appendMillis(b []byte, micros int64) []byte {
	if micros <= -maxExactMicros || micros >= maxExactMicros {
		return strconv.AppendFloat(b, float64(micros)/1000, 'f', -1, 64)
	}
	if micros < 0 {
		b = append(b, '-')
		micros = -micros
	}
	b = strconv.AppendInt(b, micros/1000, 10)
	frac := micros % 1000
	if frac == 0 {
		return b
	}
	digits := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10),
		byte('0' + frac%10)}
	n := len(digits)
	for digits[n-1] == '0' {
		n--
	}
	return append(b, digits[:n]...)
}

// appendJSONString appends s as a quoted JSON string, escaped as
// slog.JSONHandler escapes strings. It escapes '"', '\\' and the control
// characters below U+0020, \n, \r and \t by name and the rest as
// \u00XX. Each byte of invalid UTF-8 becomes \ufffd, and U+2028 and
// U+2029 become \u2028 and \u2029. Unlike encoding/json, slog leaves
// '<', '>' and '&' as they are.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plainWord(load64(s[i:])) {
			i += 8
			continue
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			b = appendEscapedByte(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// Each byte of ones is 0x01, and each byte of highBits is 0x80.
const (
	ones     = 0x0101010101010101
	highBits = 0x8080808080808080
)

// load64 returns the first eight bytes of s as a little-endian word.
// The Go 1.26 compiler merges the byte loads into one on amd64.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 |
		uint64(s[3])<<24 | uint64(s[4])<<32 | uint64(s[5])<<40 |
		uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord reports whether each of the eight bytes in x is ASCII from
// 0x20 up and neither '"' nor '\\', so that appendJSONString copies them
// as they are. It tests the eight bytes at once. For n up to 0x80,
// (x - n*ones) &^ x has a high bit set exactly when some byte is below
// n. A byte equals c exactly when that byte of x^(c*ones) is zero.
func plainWord(x uint64) bool {
	control := (x - 0x20*ones) &^ x
	q := x ^ '"'*ones
	quote := (q - ones) &^ q
	bs := x ^ '\\'*ones
	backslash := (bs - ones) &^ bs
	return (control|quote|backslash|x)&highBits == 0
}

// appendEscapedByte appends the escape of the ASCII byte c, which is
// '"', '\\' or a control character.
func appendEscapedByte(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}
