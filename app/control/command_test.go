package control

import "testing"

func TestParse(t *testing.T) {
	for body, want := range map[string]Command{
		"WHO": CmdWho, " who? ": CmdWho, "who is on call": CmdWho,
		"TAKE": CmdTake, "take please": CmdTake, "Take.": CmdTake,
		"NEXT": CmdNext, "who next?": CmdNext, "mine": CmdMine, "MINE please": CmdMine,
		"TAKE 4h": CmdTake, "take until fri 18:00": CmdTake,
		"c": CmdConfirm, " C ": CmdConfirm, "confirm": CmdConfirm,
		"x": CmdCancel, "X": CmdCancel,
		"HALP": CmdHelp, "help": CmdHelp, "?": CmdHelp, "": CmdHelp,
		// A stray letter in a sentence must never confirm a hand-over, and
		// words that merely contain a command are not one.
		"c u later": CmdHelp, "mistake": CmdHelp, "somewhoever": CmdHelp,
		"cancel": CmdHelp, "日本語 🚨": CmdHelp,
	} {
		if got := Parse(body); got != want {
			t.Errorf("Parse(%q) = %s, want %s", body, got, want)
		}
	}
}
