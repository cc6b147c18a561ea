package outbound

import (
	"unicode/utf8"

	"github.com/oncall/pager/app/outbound/channel"
)

// Encoding is how an SMS travels: GSM-7 packs 160 characters into one
// segment, UCS-2 only 70, and a single character outside GSM-7 turns the
// whole message into UCS-2.
type Encoding int

// Encodings.
const (
	GSM7 Encoding = iota
	UCS2
)

func (e Encoding) String() string {
	if e == UCS2 {
		return "UCS-2"
	}
	return "GSM-7"
}

// Segment sizes per GSM 03.38 / 3GPP TS 23.040: a multipart message loses
// room to its concatenation header (6 octets: 7 septets or 3 UCS-2 units).
const (
	gsm7Single, gsm7Multi = 160, 153 // septets
	ucs2Single, ucs2Multi = 70, 67   // UTF-16 code units
)

// gsm7ASCII marks the ASCII characters of the GSM 03.38 default alphabet
// (every printable ASCII character but the extension table's and the
// backquote), plus LF and CR.
var gsm7ASCII = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c <= '~'; c++ {
		t[c] = true
	}
	for _, c := range "`^{}\\[]~|" {
		t[c] = false
	}
	t['\n'], t['\r'] = true, true
	return t
}()

// septets is how many septets r takes in GSM-7: 1 for the default
// alphabet, 2 for the extension table (an escape and the character), 0 if
// it has no GSM-7 form.
func septets(r rune) int {
	if r < utf8.RuneSelf && gsm7ASCII[r] {
		return 1
	}
	switch r {
	case '^', '{', '}', '\\', '[', ']', '~', '|', '€', '\f':
		return 2
	case '£', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', 'Ø', 'ø', 'Å', 'å',
		'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ',
		'Æ', 'æ', 'ß', 'É', '¤', '¡', 'Ä', 'Ö', 'Ñ', 'Ü', '§', '¿',
		'ä', 'ö', 'ñ', 'ü', 'à':
		return 1
	}
	return 0
}

// IsGSM7 reports whether s travels as GSM-7 (every character in the
// default alphabet or its extension table).
func IsGSM7(s string) bool {
	for _, r := range s {
		if septets(r) == 0 {
			return false
		}
	}
	return true
}

// Segments counts the SMS segments Twilio bills and rate-limits for body.
func Segments(body string) int {
	n, _ := SegmentsOf(body)
	return n
}

// SegmentsOf counts body's segments and says its encoding. Parts are
// filled as a phone does: an extension character (two septets) or a
// surrogate pair (two UCS-2 units) is never split between two parts, so a
// long message may take one part more than its length divided by the part
// size. An empty body is one (empty) segment.
func SegmentsOf(body string) (int, Encoding) {
	units := 0
	for _, r := range body {
		s := septets(r)
		if s == 0 {
			return ucs2Segments(body), UCS2
		}
		units += s
	}
	if units <= gsm7Single {
		return 1, GSM7
	}
	parts, used := 1, 0
	for _, r := range body {
		s := septets(r)
		if used+s > gsm7Multi {
			parts, used = parts+1, 0
		}
		used += s
	}
	return parts, GSM7
}

func ucs2Segments(body string) int {
	units := 0
	for _, r := range body {
		units += utf16Len(r)
	}
	if units <= ucs2Single {
		return 1
	}
	parts, used := 1, 0
	for _, r := range body {
		u := utf16Len(r)
		if used+u > ucs2Multi {
			parts, used = parts+1, 0
		}
		used += u
	}
	return parts
}

func utf16Len(r rune) int {
	if r > 0xFFFF {
		return 2 // a surrogate pair
	}
	return 1
}

// MaxSMSRunes keeps an SMS within Twilio's 1,600-character limit with room to
// spare; a page is read on a phone, and a longer one is cut with an ellipsis
// rather than refused.
const MaxSMSRunes = 1500

// TrimSMS cuts body to MaxSMSRunes, marking the cut as every channel does
// (channel.Truncate: three GSM-7 dots).
func TrimSMS(body string) string { return channel.Truncate(body, MaxSMSRunes) }
