package calendar

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/schedule"
	"github.com/oncall/pager/app/team"
)

const (
	teamToken  = "cal_team-token-for-tests"
	carolToken = "cal_carol-token-for-tests"
)

// The feed is checked with a real iCalendar parser (emersion/go-ical, the
// one behind go-webdav's CalDAV), not by reading our own output back.
func testConfig(t *testing.T) *team.Config {
	t.Helper()
	data := `{
  "available_users": {"users": {
    "alice": {"id": "alice", "name": "Alice, the first; really", "phone": "+19195551001"},
    "bob":   {"id": "bob",   "name": "Bob Roberts", "phone": "+19195551002"},
    "carol": {"id": "carol", "name": "Carol Jones", "phone": "+19195551003"}
  }},
  "current_config": {
    "from_phone": "+19195559876", "pager_phone": "+18002255288",
    "oncall_user": {"id": "bob", "name": "Bob Roberts", "phone": "+19195551002"},
    "timezone": "Australia/Lord_Howe"
  },
  "schedule": {
    "rotations": [{"members": ["alice", "bob", "carol"], "start": "2026-09-28T09:00", "shift": "1w"}],
    "overrides": [{"member": "carol", "from": "2026-10-06T12:00", "to": "2026-10-06T18:00"}],
    "calendar_tokens": {
      "team":  {"sha256": "` + team.HashAPIKey(teamToken) + `"},
      "carol": {"sha256": "` + team.HashAPIKey(carolToken) + `", "user": "carol"}
    }
  }
}`
	cfg, err := team.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type fixed struct{ cfg *team.Config }

func (f fixed) Current() *team.Config { return f.cfg }

func get(t *testing.T, h *Handler, path string) (int, string, http.Header) {
	t.Helper()
	e := echo.New()
	e.GET("/calendar/:file", h.Serve)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestFeedParsesAndMatchesTheSchedule(t *testing.T) {
	cfg := testConfig(t)
	now := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC) // across Lord Howe's October change
	h := New(fixed{cfg}, func() time.Time { return now })

	code, body, hdr := get(t, h, "/calendar/"+teamToken+".ics")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/calendar") {
		t.Fatalf("%d %s", code, hdr.Get("Content-Type"))
	}
	for _, line := range strings.SplitAfter(body, "\r\n") {
		if len(strings.TrimSuffix(line, "\r\n")) > 75 || line != "" && !strings.HasSuffix(line, "\r\n") {
			t.Errorf("line not folded or not CRLF: %q", line)
		}
	}
	cal, err := ical.NewDecoder(bytes.NewReader([]byte(body))).Decode()
	if err != nil {
		t.Fatalf("feed does not parse: %v\n%s", err, body)
	}
	events := cal.Events()
	sched, _ := cfg.OnCallSchedule()
	shifts := sched.Shifts(now.Add(-Behind), maxEvents, now.Add(Ahead))
	if shifts[0].End.Before(now) {
		shifts = shifts[1:]
	}
	if len(events) != len(shifts) || len(events) < 10 {
		t.Fatalf("%d events, %d shifts", len(events), len(shifts))
	}
	for i, ev := range events {
		start, err := ev.DateTimeStart(time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		end, err := ev.DateTimeEnd(time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		sh := shifts[i]
		if !start.Equal(sh.Start) || !sh.End.IsZero() && !end.Equal(sh.End) {
			t.Errorf("event %d: %s..%s, shift %s..%s", i, start, end, sh.Start, sh.End)
		}
		summary, _ := ev.Props.Text(ical.PropSummary)
		name := map[string]string{"alice": "Alice, the first; really", "bob": "Bob Roberts", "carol": "Carol Jones"}[sh.Member]
		if summary != "On call: "+name {
			t.Errorf("event %d summary %q, want %s's", i, summary, name)
		}
	}
	// The week over the DST change starts 09:00 +10:30 and ends 09:00 +11.
	first, _ := events[0].DateTimeStart(time.UTC)
	if want := time.Date(2026, 9, 27, 22, 30, 0, 0, time.UTC); !first.Equal(want) {
		t.Errorf("first shift starts %s, want %s", first, want)
	}
	second, _ := events[1].DateTimeStart(time.UTC)
	if want := time.Date(2026, 10, 4, 22, 0, 0, 0, time.UTC); !second.Equal(want) {
		t.Errorf("second shift starts %s, want %s", second, want)
	}

	// One member's feed has only their shifts.
	_, body, _ = get(t, h, "/calendar/"+carolToken+".ics")
	cal, err = ical.NewDecoder(strings.NewReader(body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	var carols int
	for _, sh := range shifts {
		if sh.Member == "carol" {
			carols++
		}
	}
	if got := len(cal.Events()); got != carols || got == 0 {
		t.Errorf("carol's feed: %d events, want %d", got, carols)
	}
	for _, ev := range cal.Events() {
		if s, _ := ev.Props.Text(ical.PropSummary); s != "On call: Carol Jones" {
			t.Errorf("carol's feed has %q", s)
		}
	}
}

func TestFeedRevealsNothingForABadToken(t *testing.T) {
	cfg := testConfig(t)
	h := New(fixed{cfg}, nil)
	for _, p := range []string{
		"/calendar/" + teamToken, // no .ics
		"/calendar/" + teamToken + "x.ics",
		"/calendar/.ics",
		"/calendar/" + team.HashAPIKey(teamToken) + ".ics", // the hash is not the token
	} {
		code, body, _ := get(t, h, p)
		if code != http.StatusNotFound || body != "not found\n" {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
}

// A calendar takes an event whose UID changed for a new one: a shift keeps
// its UID from fetch to fetch, also once the feed's window cuts its start.
func TestEventUIDStaysAcrossFetches(t *testing.T) {
	cfg := testConfig(t)
	rot := schedule.Rotation{Members: []string{"alice", "bob"}, Start: schedule.CivilOf(2026, 9, 28, 9, 0), Shift: schedule.Length{N: 3, Unit: schedule.Weeks}}
	uids := func(sched *schedule.Schedule, now time.Time) map[string]string {
		t.Helper()
		cal, err := ical.NewDecoder(strings.NewReader(Feed(cfg, sched, "", now))).Decode()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, ev := range cal.Events() {
			start, err := ev.DateTimeStart(time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			uid, _ := ev.Props.Text(ical.PropUID)
			out[start.Format(time.RFC3339)] = uid
		}
		return out
	}
	sched := schedule.New(time.UTC, []schedule.Rotation{rot}, nil, "bob")
	// Alice's three weeks from 28 September 09:00: inside the window on
	// the 1st, cut at its start (a week back) on the 10th.
	before := uids(sched, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	want := before["2026-09-28T09:00:00Z"]
	if want == "" {
		t.Fatalf("no event for alice's shift: %v", before)
	}
	for _, now := range []time.Time{time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 10, 1, 0, 0, 0, time.UTC)} {
		got := uids(sched, now)
		cut := now.Add(-Behind).Format(time.RFC3339)
		if got[cut] != want {
			t.Errorf("at %s: alice's shift (cut at %s) has UID %q, want %q; events %v", now, cut, got[cut], want, got)
		}
		// The shifts after it keep theirs too.
		if b := got["2026-10-19T09:00:00Z"]; b == "" || b != before["2026-10-19T09:00:00Z"] {
			t.Errorf("at %s: bob's next shift has UID %q, before %q", now, b, before["2026-10-19T09:00:00Z"])
		}
	}

	// One member on call since before the schedule's every part: one UID
	// whenever the feed is fetched.
	always := schedule.New(time.UTC, nil, nil, "bob")
	a := uids(always, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	b := uids(always, time.Date(2026, 10, 1, 1, 0, 0, 0, time.UTC))
	if len(a) != 1 || len(b) != 1 || fmt.Sprint(slices.Collect(maps.Values(a))) != fmt.Sprint(slices.Collect(maps.Values(b))) {
		t.Errorf("UIDs %v then %v", a, b)
	}
}
