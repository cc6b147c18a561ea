package control

import (
	"testing"
	"time"
)

func TestTakeEnd(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, ny) // a Tuesday
	for body, want := range map[string]string{
		"TAKE":                       "",
		"take please":                "",
		"take 4h":                    "Tue 1 Dec 14:00",
		"TAKE 90m":                   "Tue 1 Dec 11:30",
		"TAKE 2d":                    "Thu 3 Dec 10:00",
		"TAKE UNTIL fri 18:00":       "Fri 4 Dec 18:00",
		"take until Friday 18:00":    "Fri 4 Dec 18:00",
		"take until 9:00":            "Wed 2 Dec 09:00",
		"take until 18:00":           "Tue 1 Dec 18:00",
		"take until tue 09:00":       "Tue 8 Dec 09:00",
		"take until tomorrow 08:00":  "Wed 2 Dec 08:00",
		"Take till today 23:59":      "Tue 1 Dec 23:59",
		"take 5m":                    "error",
		"take 30d":                   "error",
		"take soon":                  "error",
		"take until funday 9:00":     "error",
		"take until 25:00":           "error",
		"take until today 08:00":     "error",
		"take until":                 "error",
		"take until fri 18:00 sharp": "error",
	} {
		got, err := takeEnd(body, now, ny)
		var s string
		switch {
		case err != nil:
			s = "error"
		case !got.IsZero():
			s = got.In(ny).Format("Mon 2 Jan 15:04")
		}
		if s != want {
			t.Errorf("%q: %q (%v), want %q", body, s, err, want)
		}
	}
}

func TestWhen(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, ny)
	if got := when(now.Add(24*time.Hour), now, ny); got != "Wed 10:00" {
		t.Error(got)
	}
	if got := when(now.Add(7*24*time.Hour), now, ny); got != "Tue 8 Dec 10:00" {
		t.Error(got)
	}
}
