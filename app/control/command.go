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
	b := strings.ToLower(strings.TrimSpace(body))
	b = strings.TrimFunc(b, func(r rune) bool { return unicode.IsPunct(r) && r != '?' || unicode.IsSpace(r) })
	switch b {
	case "c", "confirm":
		return CmdConfirm
	case "x":
		// Not "cancel": Twilio treats a lone CANCEL as an opt-out and would
		// block the member's number.
		return CmdCancel
	case "?", "halp", "help":
		return CmdHelp
	}
	if first, _, _ := strings.Cut(b, " "); first == "quiet" {
		return CmdQuiet
	}
	words := strings.FieldsFunc(b, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, w := range words {
		switch w {
		case "take":
			return CmdTake
		case "who":
			return CmdWho
		}
	}
	return CmdHelp
}
