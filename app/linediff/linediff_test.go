package linediff

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func numbered(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %d", i+1)
	}
	return lines
}

func TestDiffHunksAndLineNumbers(t *testing.T) {
	old := numbered(20)
	edit := append([]string{}, old...)
	edit[1] = "line 2 changed"                                                  // hunk 1
	edit = append(edit[:5], append([]string{"new a", "new b"}, edit[5:]...)...) // inserted after old line 5
	edit = append(edit[:16], edit[17:]...)                                      // old line 15 removed
	got := Diff(strings.Join(old, "\n")+"\n", strings.Join(edit, "\n")+"\n")
	want := []Hunk{
		{A: 1, ACount: 7, B: 1, BCount: 9, Lines: []Line{
			{Same, "line 1", 1, 1, false},
			{Del, "line 2", 2, 0, false},
			{Add, "line 2 changed", 0, 2, false},
			{Same, "line 3", 3, 3, false},
			{Same, "line 4", 4, 4, false},
			{Same, "line 5", 5, 5, false},
			{Add, "new a", 0, 6, false},
			{Add, "new b", 0, 7, false},
			{Same, "line 6", 6, 8, false},
			{Same, "line 7", 7, 9, false},
		}},
		{A: 13, ACount: 5, B: 15, BCount: 4, Lines: []Line{
			{Same, "line 13", 13, 15, false},
			{Same, "line 14", 14, 16, false},
			{Del, "line 15", 15, 0, false},
			{Same, "line 16", 16, 17, false},
			{Same, "line 17", 17, 18, false},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if h := got[1].Header(); h != "@@ -13,5 +15,4 @@" {
		t.Errorf("header %q", h)
	}
	if Diff("a\nb\n", "a\nb\n") != nil {
		t.Error("equal texts differ")
	}
}

func TestDiffEdges(t *testing.T) {
	for _, c := range []struct {
		a, b, want string
	}{
		// Only the final newline differs: still a change, marked.
		{"a\nb\n", "a\nb", "@@ -1,2 +1,2 @@\n a\n-b\n+b$\n"},
		{"", "x\n", "@@ -0,0 +1 @@\n+x\n"},
		{"x\n", "", "@@ -1 +0,0 @@\n-x\n"},
		// A pure insertion numbers the old line before it.
		{"a\nb\nc\nd\ne\nf\n", "a\nb\nc\nd\nnew\ne\nf\n", "@@ -3,4 +3,5 @@\n c\n d\n+new\n e\n f\n"},
	} {
		var sb strings.Builder
		for _, h := range Diff(c.a, c.b) {
			sb.WriteString(h.Header() + "\n")
			for _, l := range h.Lines {
				sb.WriteString(string(l.Op) + l.Text)
				if l.NoNewline {
					sb.WriteString("$")
				}
				sb.WriteString("\n")
			}
		}
		if sb.String() != c.want {
			t.Errorf("Diff(%q, %q):\n%s\nwant:\n%s", c.a, c.b, sb.String(), c.want)
		}
	}
}

// A one-line edit of a long text costs memory in the edit, not in the
// square of the text: the common start and end never reach the table.
func TestDiffLongTextSmallEdit(t *testing.T) {
	lines := numbered(5000)
	a := strings.Join(lines, "\n")
	lines[2500] = "changed"
	b := strings.Join(lines, "\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := Diff(a, b)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("diff of two 5000-line texts allocated %d MB", n>>20)
	}
	if len(got) != 1 || got[0].A != 2499 || got[0].B != 2499 || len(got[0].Lines) != 6 {
		t.Fatalf("hunks %+v", got)
	}
}

// Past maxCells the changed middle is removed then added, whole.
func TestDiffTooLargeIsWholeReplacement(t *testing.T) {
	x, y := numbered(2001), numbered(2001)
	for i := range y {
		y[i] += "'"
	}
	got := Diff("same\n"+strings.Join(x, "\n"), "same\n"+strings.Join(y, "\n"))
	if len(got) != 1 || got[0].A != 1 || got[0].ACount != 2002 || got[0].BCount != 2002 ||
		got[0].Lines[1].Op != Del || got[0].Lines[2002].Op != Add {
		t.Fatalf("hunk %+v", got[0].Header())
	}
}
