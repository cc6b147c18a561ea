package channel

import (
	"unicode/utf8"
)

const ellipsis = "…"

// Truncate limits s to max runes, ending in an ellipsis when it had to cut.
// Cutting happens on rune boundaries so the result stays valid UTF-8 (a
// byte-wise cut makes providers reject or mangle the message).
func Truncate(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + ellipsis
		}
		n++
	}
	return s
}

// plainText renders subject and body for channels with a single text field.
func plainText(m Message) string {
	switch {
	case m.Subject == "":
		return m.Body
	case m.Body == "":
		return m.Subject
	default:
		return m.Subject + "\n" + m.Body
	}
}
