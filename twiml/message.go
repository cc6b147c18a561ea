package twiml

import (
	"io"
	"sync"
	"unicode/utf8"
)

// The messaging reply is the pager's most frequent answer (every text to
// the control number) and a fixed shape, so it is written directly rather
// than through twilio-go's document builder, which allocates a tree and a
// 4 KB buffer for a reply of a hundred bytes.

const (
	xmlHeader     = `<?xml version="1.0" encoding="UTF-8"?>`
	emptyResponse = xmlHeader + `<Response/>`
)

// AppendMessaging appends the messaging reply with bodies to dst: the same
// document as Messaging.
func AppendMessaging(dst []byte, bodies ...string) []byte {
	if len(bodies) == 0 {
		return append(dst, emptyResponse...)
	}
	dst = append(dst, xmlHeader+`<Response>`...)
	for _, b := range bodies {
		dst = append(dst, `<Message>`...)
		dst = appendEscaped(dst, b)
		dst = append(dst, `</Message>`...)
	}
	return append(dst, `</Response>`...)
}

// appendEscaped appends s as XML character data. Besides the five markup
// characters it escapes CR (a parser would turn a raw one into LF) and
// replaces what XML 1.0 cannot carry at all (other control characters,
// invalid UTF-8, U+FFFE/U+FFFF) with U+FFFD, as encoding/xml does.
func appendEscaped(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && plainASCII[c] {
			i++ // most of every reply: one lookup, copied with its run
			continue
		}
		var esc string
		width := 1
		switch {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '"':
			esc = "&quot;"
		case c == '\'':
			esc = "&apos;"
		case c == '\r':
			esc = "&#xD;"
		case c < 0x20:
			esc = "\uFFFD"
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			width = n
			if (r == utf8.RuneError && n == 1) || r == 0xFFFE || r == 0xFFFF {
				esc = "\uFFFD"
			}
		}
		if esc != "" {
			dst = append(dst, s[last:i]...)
			dst = append(dst, esc...)
			last = i + width
		}
		i += width
	}
	return append(dst, s[last:]...)
}

// plainASCII marks the ASCII bytes appendEscaped writes as they are.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range "&<>\"'" {
		t[c] = false
	}
	t['\n'], t['\t'] = true, true
	return t
}()

var replyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// WriteMessaging writes the messaging reply with bodies to w through a
// pooled buffer, in one Write.
func WriteMessaging(w io.Writer, bodies ...string) error {
	bp := replyBuffers.Get().(*[]byte)
	b := AppendMessaging((*bp)[:0], bodies...)
	_, err := w.Write(b)
	if cap(b) <= 64<<10 { // a freak long reply is not kept
		*bp = b[:0]
		replyBuffers.Put(bp)
	}
	return err
}
