package jsondoc

import "testing"

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"escalaton", "escalation", 1}, {"escalation", "escalation", 0}, {"timezoen", "timezone", 1}, {"", "abc", 3}, {"greting", "greeting", 1}, {"zz_first", "from_phone", 9}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
