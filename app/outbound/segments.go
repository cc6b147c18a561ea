package outbound

import "unicode/utf8"

// gsm7 is the GSM 03.38 basic character set; a message using only these (and
// the extension table, counted double) is sent 7-bit, anything else as UCS-2.
const gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

const gsm7ext = "^{}\\[~]|€\f"

func inSet(r rune, set string) bool {
	for _, c := range set {
		if c == r {
			return true
		}
	}
	return false
}

// Segments counts the SMS segments Twilio bills and rate-limits for body.
func Segments(body string) int {
	units, ucs2 := 0, false
	for _, r := range body {
		switch {
		case inSet(r, gsm7):
			units++
		case inSet(r, gsm7ext):
			units += 2
		default:
			ucs2 = true
		}
	}
	if ucs2 {
		units = 0
		for _, r := range body {
			if r > 0xFFFF {
				units += 2 // surrogate pair
			} else {
				units++
			}
		}
		return split(units, 70, 67)
	}
	return split(units, 160, 153)
}

func split(units, single, multi int) int {
	if units <= single {
		return 1
	}
	return (units + multi - 1) / multi
}

// MaxSMSRunes keeps an SMS within Twilio's 1,600-character limit with room to
// spare; a page is read on a phone, and a longer one is cut with an ellipsis
// rather than refused.
const MaxSMSRunes = 1500

// TrimSMS cuts body to MaxSMSRunes on a rune boundary.
func TrimSMS(body string) string {
	if utf8.RuneCountInString(body) <= MaxSMSRunes {
		return body
	}
	r := []rune(body)
	return string(r[:MaxSMSRunes-1]) + "…"
}
