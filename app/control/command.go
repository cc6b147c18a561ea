package control

import (
	"strings"
	"unicode"
)

// Command is what a team member asked for.
type Command string

// Commands understood on the control number.
const (
	CmdWho     Command = "who"
	CmdTake    Command = "take"
	CmdConfirm Command = "confirm"
	CmdCancel  Command = "cancel"
	CmdHelp    Command = "help"
	// CmdNext lists the next shifts (NEXT, WHO NEXT); CmdMine the sender's.
	CmdNext Command = "next"
	CmdMine Command = "mine"
	// CmdQuiet starts or ends a maintenance window: "QUIET 2h [scope]",
	// "QUIET OFF". Only as the first word: it takes arguments.
	CmdQuiet Command = "quiet"
)

// Parse maps an SMS body to a command. Case and surrounding space do not
// matter; WHO and TAKE are recognised as words anywhere in the text (people
// write "take please"), C and X only alone, since a stray letter inside a
// sentence must never confirm a hand-over. Anything unknown is a request for
// help.
func Parse(body string) Command {
	if strings.EqualFold(body, "who") {
		return CmdWho // the most frequent text, without the word scan
	}
	// Compared case-insensitively in place: this runs on every text, and
	// lower-casing and splitting copies would be its only allocations.
	b := strings.TrimFunc(body, func(r rune) bool { return unicode.IsPunct(r) && r != '?' || unicode.IsSpace(r) })
	for _, w := range [...]struct {
		word string
		cmd  Command
	}{
		{"c", CmdConfirm}, {"confirm", CmdConfirm},
		// Not "cancel": Twilio treats a lone CANCEL as an opt-out and would
		// block the member's number.
		{"x", CmdCancel},
		{"?", CmdHelp}, {"halp", CmdHelp}, {"help", CmdHelp},
	} {
		if strings.EqualFold(b, w.word) {
			return w.cmd
		}
	}
	if first, _, _ := strings.Cut(b, " "); strings.EqualFold(first, "quiet") {
		return CmdQuiet
	}
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	var who, next, mine bool
	for rest := b; ; {
		i := strings.IndexFunc(rest, isWord)
		if i < 0 {
			break
		}
		rest = rest[i:]
		j := strings.IndexFunc(rest, func(r rune) bool { return !isWord(r) })
		if j < 0 {
			j = len(rest)
		}
		switch w := rest[:j]; {
		case strings.EqualFold(w, "take"):
			return CmdTake // it changes something, so it wins
		case strings.EqualFold(w, "who"):
			who = true
		case strings.EqualFold(w, "next"):
			next = true
		case strings.EqualFold(w, "mine"):
			mine = true
		}
		rest = rest[j:]
	}
	// "who next" asks for the list.
	switch {
	case next:
		return CmdNext
	case mine:
		return CmdMine
	case who:
		return CmdWho
	}
	return CmdHelp
}
