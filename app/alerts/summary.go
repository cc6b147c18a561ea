package alerts

import (
	"regexp"
	"strings"
)

// A summary comes from whoever can post an event; it is put in pages whose
// reply instructions the team acts on. Anything in it that reads as such an
// instruction is taken out, so a summary cannot fake a second page.
var (
	// codeTag is a page's "[1a/1c]" (or "[1]", "[#1a]").
	codeTag = regexp.MustCompile(`(?i)\[\s*#?\d+\s*[ac]?\s*(/\s*#?\d+\s*[ac]?\s*)*\]`)
	// replyHint is "reply 1c to close", "text ACK 2", "reply with 3a ...",
	// up to the end of its clause.
	replyHint = regexp.MustCompile(`(?i)\b(reply|text|send|respond)\s+(with\s+)?(#?\d+\s*[ac]\b|ack\b|acknowledge\b|close\b|resolve\b)[^.;!\[\]]*`)
	// dangling is the dash or colon a removed hint leaves behind, before
	// the end of a clause; leading is what it leaves at the start.
	dangling = regexp.MustCompile(`\s*[-:,]+\s*([.;!]|$)`)
	leading  = regexp.MustCompile(`^[-:;,.!\s]+`)
)

// CleanSummary is summary as pages show it: one line (every run of
// whitespace, newlines included, one space) with code tags and reply
// instructions taken out.
func CleanSummary(summary string) string {
	s := strings.Join(strings.Fields(summary), " ")
	s = codeTag.ReplaceAllString(s, " ")
	s = replyHint.ReplaceAllString(s, " ")
	s = strings.Join(strings.Fields(s), " ")
	s = dangling.ReplaceAllString(s, "$1")
	s = leading.ReplaceAllString(s, "")
	// " - - " left between two removed parts.
	s = strings.ReplaceAll(s, " - - ", " - ")
	return strings.TrimSpace(s)
}

// pageSummary is the summary an alert keeps: cleaned, and never empty.
func pageSummary(summary string) string {
	if s := CleanSummary(summary); s != "" {
		return s
	}
	return "(summary held only reply instructions)"
}
