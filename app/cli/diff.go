package cli

import (
	"strings"

	"github.com/oncall/pager/app/linediff"
)

// lineDiff is the unified diff of the stored config a and the file b
// ("-" stored, "+" file), or "" when they are equal. Hunk headers number
// the lines of each text, so the change can be found in the file.
func lineDiff(a, b string) string {
	var sb strings.Builder
	for _, h := range linediff.Diff(a, b) {
		sb.WriteString(h.Header() + "\n")
		for _, l := range h.Lines {
			sb.WriteString(string(l.Op) + l.Text + "\n")
			if l.NoNewline {
				sb.WriteString("\\ No newline at end of file\n")
			}
		}
	}
	return sb.String()
}
