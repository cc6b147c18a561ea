package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/schedule/calendar"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

const scheduleConfig = `{
  "available_users": {"users": {
    "alice": {"id": "alice", "name": "Alice", "phone": "+19195551001"},
    "bob":   {"id": "bob",   "name": "Bob",   "phone": "+19195551002"},
    "carol": {"id": "carol", "name": "Carol", "phone": "+19195551003"}
  }},
  "current_config": {
    "from_phone": "+19195559876", "pager_phone": "+18002255288",
    "oncall_user": {"id": "alice", "name": "Alice", "phone": "+19195551001"},
    "timezone": "Europe/London"
  },
  "schedule": {"rotations": [{"name": "weekly", "members": ["alice", "bob", "carol"], "start": "2026-11-30T09:00", "shift": "1w"}]}
}`

func scheduleStore(t *testing.T) store.Store {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("BACKING_STORE_DIR", filepath.Join(dir, "data"))
	t.Setenv("ONCALL_APP_BASE_URL", "https://pager.example.com")
	for _, k := range []string{"BACKING_STORE_S3_BUCKET", "BACKING_STORE_S3_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"} {
		t.Setenv(k, "")
	}
	st, err := local.New(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), app.DefaultConfigKey, []byte(scheduleConfig), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	return st
}

func storedConfig(t *testing.T, st store.Store) *team.Config {
	t.Helper()
	obj, err := st.Get(context.Background(), app.DefaultConfigKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := team.Parse(obj.Data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestScheduleShowAndOverride(t *testing.T) {
	st := scheduleStore(t)
	code, out, errs := run(t, "schedule", "show", "--from", "2026-12-01T00:00:00Z", "--days", "14")
	want := `shifts from Tue 2026-12-01 00:00 GMT for 14 days (Europe/London):
Tue 2026-12-01 00:00 GMT  to  Mon 2026-12-07 09:00 GMT  Alice (alice)  [rotation weekly]
Mon 2026-12-07 09:00 GMT  to  Mon 2026-12-14 09:00 GMT  Bob (bob)  [rotation weekly]
Mon 2026-12-14 09:00 GMT  to  (no end within the window)  Carol (carol)  [rotation weekly]
`
	if code != 0 || out != want {
		t.Fatalf("show: exit %d\n%s%s\nwant:\n%s", code, out, errs, want)
	}

	code, out, errs = run(t, "schedule", "override", "carol", "2026-12-09T12:00", "2026-12-09T18:00")
	if code != 0 || !strings.Contains(out, "override added") {
		t.Fatalf("override: exit %d\n%s%s", code, out, errs)
	}
	cfg := storedConfig(t, st)
	if len(cfg.Schedule.Overrides) != 1 || cfg.Schedule.Overrides[0].Member != "carol" || cfg.Schedule.Overrides[0].From != "2026-12-09T12:00:00Z" {
		t.Fatalf("stored overrides %+v", cfg.Schedule.Overrides)
	}
	code, out, _ = run(t, "schedule", "show", "--from", "2026-12-01T00:00:00Z", "--days", "14", "--user", "carol")
	if code != 0 || !strings.Contains(out, "Wed 2026-12-09 12:00 GMT  to  Wed 2026-12-09 18:00 GMT  Carol (carol)  [override]") {
		t.Fatalf("carol's shifts: %s", out)
	}

	// Refused, with the reason, and nothing written.
	before, _ := st.Get(context.Background(), app.DefaultConfigKey)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bob", "2026-12-09T17:00", "2026-12-09T19:00"}, "overlaps overrides[0]"},
		{[]string{"zoe", "2026-12-10T17:00", "2026-12-10T19:00"}, `"zoe" is not in available_users`},
		{[]string{"bob", "2026-12-10T19:00", "2026-12-10T19:00"}, "is not after from"},
		{[]string{"bob", "tomorrow", "2026-12-10T19:00"}, "FROM"},
	} {
		code, out, errs := run(t, append([]string{"schedule", "override"}, c.args...)...)
		if code != 1 || !strings.Contains(out+errs, c.want) {
			t.Errorf("%v: exit %d, want %q in\n%s%s", c.args, code, c.want, out, errs)
		}
	}
	after, _ := st.Get(context.Background(), app.DefaultConfigKey)
	if after.ETag != before.ETag {
		t.Error("a refused override changed the stored config")
	}
}

func TestScheduleTokenNew(t *testing.T) {
	st := scheduleStore(t)
	code, out, errs := run(t, "schedule", "token", "new", "--user", "carol")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	m := regexp.MustCompile(`https://pager\.example\.com/calendar/(cal_[A-Za-z0-9_-]{43})\.ics`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no feed URL in:\n%s", out)
	}
	cfg := storedConfig(t, st)
	name, tok, ok := cfg.CheckCalendarToken(m[1])
	if !ok || name != "carol" || tok.User != "carol" {
		t.Fatalf("stored token: %q %+v %v", name, tok, ok)
	}
	if strings.Contains(cfg.Schedule.CalendarTokens["carol"].SHA256, m[1]) {
		t.Error("token stored in clear")
	}
	if code, _, errs := run(t, "schedule", "token", "new", "--user", "carol"); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("second token under one name: exit %d %s", code, errs)
	}
	if code, _, _ := run(t, "schedule", "token", "new", "--user", "zoe"); code != 1 {
		t.Error("token for an unknown user")
	}
}

// TestCalendarFeedMatchesScheduleShow: what a calendar app shows is what
// `schedule show` prints.
func TestCalendarFeedMatchesScheduleShow(t *testing.T) {
	st := scheduleStore(t)
	if code, out, errs := run(t, "schedule", "override", "carol", "2026-12-09T12:00", "2026-12-09T18:00"); code != 0 {
		t.Fatalf("%s%s", out, errs)
	}
	cfg := storedConfig(t, st)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	code, out, errs := run(t, "schedule", "show", "--from", now.Format(time.RFC3339), "--days", "90")
	if code != 0 {
		t.Fatalf("%s%s", out, errs)
	}
	line := regexp.MustCompile(`^(\w{3} [0-9-]{10} [0-9:]{5} \w+)  to  (\w{3} [0-9-]{10} [0-9:]{5} \w+)  (\w+) \(`)
	loc := cfg.CurrentConfig.Location()
	var shown []string
	for _, l := range strings.Split(out, "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		start, err1 := time.ParseInLocation("Mon 2006-01-02 15:04 MST", m[1], loc)
		end, err2 := time.ParseInLocation("Mon 2006-01-02 15:04 MST", m[2], loc)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if start.After(now) { // the first line is cut at --from
			shown = append(shown, fmt.Sprintf("%s %s %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), m[3]))
		}
	}
	sched, _ := cfg.OnCallSchedule()
	cal, err := ical.NewDecoder(strings.NewReader(calendar.Feed(cfg, sched, "", now))).Decode()
	if err != nil {
		t.Fatal(err)
	}
	var feed []string
	for _, ev := range cal.Events() {
		start, _ := ev.DateTimeStart(time.UTC)
		end, _ := ev.DateTimeEnd(time.UTC)
		summary, _ := ev.Props.Text(ical.PropSummary)
		if start.After(now) && len(feed) < len(shown) {
			feed = append(feed, fmt.Sprintf("%s %s %s", start.Format(time.RFC3339), end.Format(time.RFC3339), strings.TrimPrefix(summary, "On call: ")))
		}
	}
	if len(shown) < 10 || strings.Join(feed, "\n") != strings.Join(shown, "\n") {
		t.Errorf("feed:\n%s\nschedule show:\n%s", strings.Join(feed, "\n"), strings.Join(shown, "\n"))
	}
}
