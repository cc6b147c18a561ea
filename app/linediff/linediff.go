// Package linediff compares two texts line by line, for the config diffs
// that `oncall-pager config push --force` and the console's config page
// show before a change overwrites the stored config. Both show the same
// diff, so an operator reading one can trust the other.
package linediff

import (
	"fmt"
	"strings"
)

// Op says which text a line is in.
type Op string

// The ops, as a unified diff writes them.
const (
	Same Op = " "
	Del  Op = "-" // only in the old text
	Add  Op = "+" // only in the new text
)

// Line is one line of a diff. A and B are its 1-based numbers in the old
// and the new text, 0 in the text it is not in.
type Line struct {
	Op   Op
	Text string // without its newline
	A, B int
	// NoNewline marks a last line without a newline after it: a text that
	// differs only there still shows a change.
	NoNewline bool
}

// Hunk is a run of changed lines with up to Context unchanged lines
// around them. A and B number its first line in the old and the new
// text, ACount and BCount its lines in each; as in a unified diff, a hunk
// with no lines of a text has the number of the line before it there.
type Hunk struct {
	A, ACount int
	B, BCount int
	Lines     []Line
}

// Header is the hunk's unified diff header, "@@ -A,ACount +B,BCount @@".
func (h Hunk) Header() string {
	span := func(start, n int) string {
		if n == 1 {
			return fmt.Sprint(start)
		}
		return fmt.Sprintf("%d,%d", start, n)
	}
	return "@@ -" + span(h.A, h.ACount) + " +" + span(h.B, h.BCount) + " @@"
}

// Context is how many unchanged lines a hunk keeps on each side of a
// change.
const Context = 2

// maxCells bounds the longest-common-subsequence table (changed lines of
// one text times changed lines of the other, 4 bytes each, so 16 MB).
// Beyond it the changed middle is shown as removed then added: still a
// correct diff, only a longer one.
const maxCells = 4_000_000

// Diff is the diff of a and b in hunks, nil when they are equal. The
// common start and end are cut before the quadratic part, so a small edit
// of a long config costs time and memory in the size of the edit.
func Diff(a, b string) []Hunk {
	if a == b {
		return nil
	}
	x, y := split(a), split(b)
	head := 0
	for head < len(x) && head < len(y) && x[head] == y[head] {
		head++
	}
	tail := 0
	for tail < len(x)-head && tail < len(y)-head && x[len(x)-1-tail] == y[len(y)-1-tail] {
		tail++
	}
	ops := make([]Op, 0, len(x)+len(y)-head-tail)
	for range head {
		ops = append(ops, Same)
	}
	ops = append(ops, middle(x[head:len(x)-tail], y[head:len(y)-tail])...)
	for range tail {
		ops = append(ops, Same)
	}
	return hunks(ops, x, y)
}

// split cuts s into lines that keep their newline, so that a last line
// with one and the same line without compare unequal.
func split(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// middle is the edit script of x into y: a longest common subsequence,
// removals before additions where either order would do.
func middle(x, y []string) []Op {
	n, m := len(x), len(y)
	ops := make([]Op, 0, n+m)
	if n*m > maxCells {
		for range n {
			ops = append(ops, Del)
		}
		for range m {
			ops = append(ops, Add)
		}
		return ops
	}
	// lcs[i*(m+1)+j]: length of the longest common subsequence of x[i:]
	// and y[j:]. One flat table of int32: half the memory of [][]int.
	w := m + 1
	lcs := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, Same)
			i, j = i+1, j+1
		case i < n && (j == m || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
			ops = append(ops, Del)
			i++
		default:
			ops = append(ops, Add)
			j++
		}
	}
	return ops
}

// hunks groups the script's changes, each with Context lines around it;
// changes close enough for their context to touch share a hunk.
func hunks(ops []Op, x, y []string) []Hunk {
	show := make([]bool, len(ops))
	for k, op := range ops {
		if op != Same {
			for c := max(0, k-Context); c <= min(len(ops)-1, k+Context); c++ {
				show[c] = true
			}
		}
	}
	var out []Hunk
	var cur *Hunk
	i, j := 0, 0 // lines of x and y before ops[k]
	for k, op := range ops {
		if !show[k] {
			cur = nil
		} else {
			if cur == nil {
				out = append(out, Hunk{A: i, B: j})
				cur = &out[len(out)-1]
			}
			l := Line{Op: op}
			raw := ""
			if op != Add {
				l.A, raw = i+1, x[i]
				cur.ACount++
			}
			if op != Del {
				l.B, raw = j+1, y[j]
				cur.BCount++
			}
			l.Text = strings.TrimSuffix(raw, "\n")
			l.NoNewline = l.Text == raw
			cur.Lines = append(cur.Lines, l)
		}
		if op != Add {
			i++
		}
		if op != Del {
			j++
		}
	}
	for k := range out {
		if out[k].ACount > 0 {
			out[k].A++
		}
		if out[k].BCount > 0 {
			out[k].B++
		}
	}
	return out
}
