package server

import (
	"context"
	"fmt"
	"log/slog"
	"unicode/utf8"
)

// MaxLogValue bounds every string a log line carries: request data ends up
// in log lines (paths, errors quoting input), and a line must not grow with
// what a client sends.
const MaxLogValue = 1024

// Truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("...(%d bytes)", len(s))
}

// BoundedLogs wraps h so no attribute value (strings, errors, anything
// printed) is longer than max bytes.
func BoundedLogs(h slog.Handler, max int) slog.Handler {
	if max <= 0 {
		max = MaxLogValue
	}
	return boundedHandler{h: h, max: max}
}

type boundedHandler struct {
	h   slog.Handler
	max int
}

func (b boundedHandler) Enabled(ctx context.Context, l slog.Level) bool { return b.h.Enabled(ctx, l) }

func (b boundedHandler) Handle(ctx context.Context, r slog.Record) error {
	if b.fits(r) {
		return b.h.Handle(ctx, r) // the usual line: nothing to cut, no copy
	}
	out := slog.NewRecord(r.Time, r.Level, Truncate(r.Message, b.max), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(b.attr(a))
		return true
	})
	return b.h.Handle(ctx, out)
}

// fits reports whether r has nothing to cut: a message and strings within
// the bound, and only kinds of a fixed size besides. Anything else (errors,
// groups, values printed late) takes the copying path.
func (b boundedHandler) fits(r slog.Record) bool {
	if len(r.Message) > b.max {
		return false
	}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		switch a.Value.Kind() {
		case slog.KindString:
			ok = len(a.Value.String()) <= b.max
		case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration, slog.KindTime:
		default:
			ok = false
		}
		return ok
	})
	return ok
}

func (b boundedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	bs := make([]slog.Attr, len(as))
	for i, a := range as {
		bs[i] = b.attr(a)
	}
	return boundedHandler{h: b.h.WithAttrs(bs), max: b.max}
}

func (b boundedHandler) WithGroup(name string) slog.Handler {
	return boundedHandler{h: b.h.WithGroup(name), max: b.max}
}

func (b boundedHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if len(v.String()) > b.max {
			return slog.String(a.Key, Truncate(v.String(), b.max))
		}
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, x := range g {
			out[i] = b.attr(x)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			if s := x.Error(); len(s) > b.max {
				return slog.String(a.Key, Truncate(s, b.max))
			}
		case fmt.Stringer:
			if s := x.String(); len(s) > b.max {
				return slog.String(a.Key, Truncate(s, b.max))
			}
		case []string:
			n := 0
			for _, s := range x {
				n += len(s)
			}
			if n > b.max {
				return slog.String(a.Key, Truncate(fmt.Sprint(x), b.max))
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
