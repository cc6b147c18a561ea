package alerts

import (
	"strings"
	"unicode"
)

// ReplyAction is what a team member's SMS asks of an alert.
type ReplyAction string

// Reply actions.
const (
	ReplyAck   ReplyAction = "ack"
	ReplyClose ReplyAction = "close"
)

// Reply is a parsed acknowledgement or close. Code is empty for a bare
// "ACK" / "CLOSE": the latest alert paged to the sender (LatestPagedTo).
type Reply struct {
	Action ReplyAction
	Code   string
}

// ParseReply recognizes the replies a page asks for: "1a" / "1c" (the code
// then a or c, as the SMS says), "ack 1", "close 1", "ack" and "close",
// in any case, with optional spaces and '#' ("ACK #1"), and the synonyms
// acknowledge and resolve. A bare "a" or "c" is not a reply: C and X answer
// the control line's TAKE question.
func ParseReply(body string) (Reply, bool) {
	// Every reply starts with a code ('#' or a digit) or a verb (a, c or
	// r); anything else (WHO, TAKE, HALP, most texts) is refused here
	// without the copies below.
	switch t := strings.TrimLeftFunc(body, unicode.IsSpace); {
	case t == "":
		return Reply{}, false
	default:
		switch c := t[0] | 0x20; {
		case t[0] == '#', t[0] >= '0' && t[0] <= '9', c == 'a', c == 'c', c == 'r':
		default:
			return Reply{}, false
		}
	}
	s := strings.ToLower(strings.Join(strings.Fields(body), " "))
	s = strings.TrimRight(s, ".!")
	if s == "" {
		return Reply{}, false
	}
	// Code first: "1a", "1 a", "#1 ack".
	if i := digitsEnd(strings.TrimPrefix(s, "#")); i > 0 {
		rest := strings.TrimPrefix(s, "#")
		code, verb := rest[:i], strings.TrimSpace(rest[i:])
		if act, ok := replyVerb(verb, true); ok && isCode(code) {
			return Reply{Action: act, Code: code}, true
		}
		return Reply{}, false
	}
	// Verb first: "ack 1", "ack#1", "ack".
	j := 0
	for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
		j++
	}
	verb, rest := s[:j], strings.TrimSpace(s[j:])
	rest = strings.TrimSpace(strings.TrimPrefix(rest, "#"))
	if rest == "" {
		if act, ok := replyVerb(verb, false); ok {
			return Reply{Action: act}, true
		}
		return Reply{}, false
	}
	if act, ok := replyVerb(verb, true); ok && isCode(rest) {
		return Reply{Action: act, Code: rest}, true
	}
	return Reply{}, false
}

func digitsEnd(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// replyVerb maps a word to an action; single letters only next to a code.
func replyVerb(w string, withCode bool) (ReplyAction, bool) {
	switch w {
	case "ack", "acknowledge":
		return ReplyAck, true
	case "close", "resolve", "resolved", "closed":
		return ReplyClose, true
	case "a":
		return ReplyAck, withCode
	case "c":
		return ReplyClose, withCode
	}
	return "", false
}

// OptKeyword is a carrier-level opt-out or opt-in word.
type OptKeyword string

// Opt keywords.
const (
	OptOut OptKeyword = "stop"
	OptIn  OptKeyword = "start"
)

// ParseOptKeyword recognizes the single-word messages Twilio itself treats
// as opt-out (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) and opt-in
// (START, YES, UNSTOP). Twilio blocks or unblocks the number before the
// message reaches us, so the pager should switch the person's SMS off or
// on in the config to match. Note that CANCEL is among them: a member who
// texts CANCEL (rather than X) to cancel a TAKE is opted out by Twilio.
func ParseOptKeyword(body string) (OptKeyword, bool) {
	w := strings.TrimSpace(body)
	if w == "" {
		return "", false
	}
	switch w[0] | 0x20 { // every keyword's first letter, any case
	case 's', 'u', 'c', 'e', 'q', 'y':
	default:
		return "", false
	}
	for _, k := range []string{"stop", "stopall", "unsubscribe", "cancel", "end", "quit"} {
		if strings.EqualFold(w, k) {
			return OptOut, true
		}
	}
	for _, k := range []string{"start", "yes", "unstop"} {
		if strings.EqualFold(w, k) {
			return OptIn, true
		}
	}
	return "", false
}
