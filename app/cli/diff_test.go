package cli

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestLineDiff(t *testing.T) {
	a := "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3,\n  \"d\": 4,\n  \"e\": 5,\n  \"f\": 6,\n  \"g\": 7\n}"
	b := "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 30,\n  \"d\": 4,\n  \"e\": 5,\n  \"f\": 6,\n  \"g\": 7,\n  \"h\": 8\n}"
	want := "@@ -2,8 +2,9 @@\n" +
		"   \"a\": 1,\n   \"b\": 2,\n-  \"c\": 3,\n+  \"c\": 30,\n   \"d\": 4,\n   \"e\": 5,\n" +
		"   \"f\": 6,\n-  \"g\": 7\n+  \"g\": 7,\n+  \"h\": 8\n }\n\\ No newline at end of file\n"
	if got := lineDiff(a, b); got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if lineDiff(a, a) != "" {
		t.Fatal("equal texts differ")
	}
}

// The hunk headers give each change's line in the stored config and in the
// file, not its row in the diff: lines added or removed above a change
// shift the two apart.
func TestLineDiffLineNumbers(t *testing.T) {
	var stored []string
	for i := 1; i <= 30; i++ {
		stored = append(stored, fmt.Sprintf("  \"k%d\": %d,", i, i))
	}
	file := append([]string{}, stored[:2]...)
	file = append(file, "  \"new1\": 0,", "  \"new2\": 0,", "  \"new3\": 0,") // in place of stored line 3
	file = append(file, stored[3:19]...)
	file = append(file, "  \"k20\": 200,") // stored line 20 changed
	file = append(file, stored[20:]...)
	got := lineDiff(strings.Join(stored, "\n")+"\n", strings.Join(file, "\n")+"\n")
	// Stored line 20 is line 22 of the file, and row 23 of the diff.
	want := "@@ -1,5 +1,7 @@\n" +
		"   \"k1\": 1,\n   \"k2\": 2,\n-  \"k3\": 3,\n+  \"new1\": 0,\n+  \"new2\": 0,\n+  \"new3\": 0,\n   \"k4\": 4,\n   \"k5\": 5,\n" +
		"@@ -18,5 +20,5 @@\n" +
		"   \"k18\": 18,\n   \"k19\": 19,\n-  \"k20\": 20,\n+  \"k20\": 200,\n   \"k21\": 21,\n   \"k22\": 22,\n"
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
}

// A one-line change to a long config: the diff's memory is the change's,
// not the square of the config's length.
func TestLineDiffLongConfig(t *testing.T) {
	lines := make([]string, 4000)
	for i := range lines {
		lines[i] = fmt.Sprintf("  \"k%d\": %d,", i+1, i+1)
	}
	a := strings.Join(lines, "\n") + "\n"
	lines[2000] = "  \"k2001\": 0,"
	b := strings.Join(lines, "\n") + "\n"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := lineDiff(a, b)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Errorf("diff of two 4000-line configs allocated %d MB", n>>20)
	}
	if !strings.HasPrefix(got, "@@ -1999,5 +1999,5 @@\n") || strings.Count(got, "\n") != 7 {
		t.Errorf("diff:\n%s", got)
	}
}
