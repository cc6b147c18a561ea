package channel

import (
	"net/url"
	"unicode/utf8"
)

// ellipsis marks a cut: three dots, GSM-7 like every text the pager
// composes (the one-character ellipsis turns an SMS into UCS-2 and more than
// doubles its segments).
const ellipsis = "..."

// Truncate limits s to max runes, ending in an ellipsis when it had to cut.
// Cutting happens on rune boundaries so the result stays valid UTF-8 (a
// byte-wise cut makes providers reject or mangle the message).
func Truncate(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= len(ellipsis) {
		return ellipsis[:max]
	}
	n := 0
	for i := range s {
		if n == max-len(ellipsis) {
			return s[:i] + ellipsis
		}
		n++
	}
	return s
}

// RedactURL keeps what helps diagnose a failure (which host) and drops what
// is usually a credential: webhook tokens live in the path or query.
func RedactURL(u *url.URL) string {
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		s += "/..."
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
