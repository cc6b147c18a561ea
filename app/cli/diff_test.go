package cli

import "testing"

func TestLineDiff(t *testing.T) {
	a := "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3,\n  \"d\": 4,\n  \"e\": 5,\n  \"f\": 6,\n  \"g\": 7\n}"
	b := "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 30,\n  \"d\": 4,\n  \"e\": 5,\n  \"f\": 6,\n  \"g\": 7,\n  \"h\": 8\n}"
	want := "@@ line 2\n" +
		"   \"a\": 1,\n   \"b\": 2,\n-  \"c\": 3,\n+  \"c\": 30,\n   \"d\": 4,\n   \"e\": 5,\n" +
		"   \"f\": 6,\n-  \"g\": 7\n+  \"g\": 7,\n+  \"h\": 8\n }\n"
	if got := lineDiff(a, b); got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if lineDiff(a, a) != "" {
		t.Fatal("equal texts differ")
	}
}
