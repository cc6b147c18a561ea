package channel

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exact", 5, "exact"},
		{"héllo wörld", 5, "hé..."},
		{"日本語テキスト", 4, "日..."},
		{"abcd", 2, ".."},
		{"no limit", 0, "no limit"},
	} {
		got := Truncate(c.in, c.max)
		if got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) produced invalid UTF-8", c.in, c.max)
		}
	}
	// Invalid input must not grow or panic, and cuts stay on boundaries.
	bad := strings.Repeat("\xff", 10)
	if got := Truncate(bad, 4); utf8.RuneCountInString(got) != 4 || !strings.HasSuffix(got, ellipsis) {
		t.Errorf("Truncate(invalid) = %q", got)
	}
}

func TestIsPermanent(t *testing.T) {
	perm := permanent(535, "auth")
	temp := temporary(451, "later")
	if !IsPermanent(perm) || !IsPermanent(fmt.Errorf("send: %w", perm)) {
		t.Error("permanent error not recognised through wrapping")
	}
	if IsPermanent(temp) || IsPermanent(errors.New("plain")) || IsPermanent(nil) {
		t.Error("non-permanent error classified permanent")
	}
	if !strings.Contains(perm.Error(), "permanent") || !strings.Contains(temp.Error(), "temporary") {
		t.Errorf("messages %q / %q do not say which kind", perm, temp)
	}
}

func TestPermanentHTTPStatus(t *testing.T) {
	for code, want := range map[int]bool{
		301: true, 400: true, 401: true, 403: true, 404: true, 410: true, 422: true,
		408: false, 429: false, 500: false, 502: false, 503: false, 504: false,
	} {
		if got := permanentHTTPStatus(code); got != want {
			t.Errorf("permanentHTTPStatus(%d) = %v, want %v", code, got, want)
		}
	}
}
