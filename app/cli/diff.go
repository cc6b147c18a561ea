package cli

import (
	"fmt"
	"strings"
)

// lineDiff is a line diff of a and b ("-" removed, "+" added) with two lines
// of context, or "" when they are equal. A config is a few hundred lines, so
// the quadratic longest-common-subsequence table is small; past maxDiffLines
// the whole of both is shown instead.
func lineDiff(a, b string) string {
	if a == b {
		return ""
	}
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	const maxDiffLines = 5000
	if len(x) > maxDiffLines || len(y) > maxDiffLines {
		var sb strings.Builder
		for _, l := range x {
			sb.WriteString("-" + l + "\n")
		}
		for _, l := range y {
			sb.WriteString("+" + l + "\n")
		}
		return sb.String()
	}
	// lcs[i][j]: length of the common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, line{' ', x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', x[i]})
			i++
		default:
			lines = append(lines, line{'+', y[j]})
			j++
		}
	}
	const context = 2
	show := make([]bool, len(lines))
	for k, l := range lines {
		if l.op != ' ' {
			for c := max(0, k-context); c <= min(len(lines)-1, k+context); c++ {
				show[c] = true
			}
		}
	}
	var sb strings.Builder
	gap := false
	for k, l := range lines {
		if !show[k] {
			gap = true
			continue
		}
		if gap {
			fmt.Fprintf(&sb, "@@ line %d\n", k+1)
			gap = false
		}
		sb.WriteString(string(l.op) + l.text + "\n")
	}
	return sb.String()
}
