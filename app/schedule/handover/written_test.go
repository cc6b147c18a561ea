package handover

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/schedule"
	"github.com/oncall/pager/app/team"
)

func mustParse(t *testing.T, data string) *team.Config {
	t.Helper()
	cfg, err := team.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func withOnCall(data, id, name, phone string) string {
	return strings.Replace(data, `"oncall_user": {"id": "alice", "name": "Alice", "phone": "+19195551001"}`,
		`"oncall_user": {"id": "`+id+`", "name": "`+name+`", "phone": "`+phone+`"}`, 1)
}

// A whole-config write that changes who is on call tells both, under ids
// that make telling the same write again send nothing; when the schedule
// decides the moment it tells nobody, but a moment it leaves to the config
// (a gap, a disabled member) is the write's to tell.
func TestConfigWritten(t *testing.T) {
	ctx := context.Background()
	// Monday 2026-12-07 12:00 in New York: the weekly shift from 30 Nov
	// 09:00 is Bob's (alice, bob, carol from 23 Nov).
	now := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		start    string
		disabled string
		who      string // the schedule's member at now, when it names one
		want     int
	}{
		{name: "no schedule", want: 2},
		{name: "rotation covers the moment", start: "2026-11-23T09:00", who: "carol", want: 0},
		{name: "before the rotation starts", start: "2027-01-04T09:00", want: 2},
		{name: "the schedule names a disabled member", start: "2026-12-07T09:00", disabled: "alice", who: "alice", want: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := string(configJSON(c.start, ""))
			if c.start == "" {
				i := strings.Index(base, `,
  "schedule"`)
				base = base[:i] + "\n}"
			}
			if c.disabled != "" {
				base = strings.Replace(base, `"phone": "+19195551001"}`, `"phone": "+19195551001", "enabled": false}`, 1)
			}
			before := mustParse(t, withOnCall(base, "carol", "Carol", "+19195551003"))
			after := mustParse(t, withOnCall(base, "bob", "Bob", "+19195551002"))
			if c.who != "" {
				if sched, ok := after.OnCallSchedule(); !ok {
					t.Fatal("fixture: no schedule")
				} else if who, src := sched.Who(now); who != c.who || src.Kind == schedule.ByFallback {
					t.Fatalf("fixture: the schedule names %s by %s", who, src.Kind)
				}
			}
			tx := &texts{byID: map[string]string{}}
			told, err := ConfigWritten(ctx, tx, before, after, `"v1"`, `"v2"`, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(tx.byID) != c.want || len(told) != c.want {
				t.Fatalf("texts %v, told %v; want %d", tx.byID, told, c.want)
			}
			if c.want == 0 {
				return
			}
			if told[0] != (Told{Phone: "+19195551002", OnCall: true}) || told[1] != (Told{Phone: "+19195551003"}) {
				t.Fatalf("told %+v", told)
			}
			var in, out string
			for id, v := range tx.byID {
				switch {
				case strings.HasSuffix(id, "-in"):
					in = v
				case strings.HasSuffix(id, "-out"):
					out = v
				}
			}
			if in != "+19195551002: Bob, you are now on call: the team config was changed by an operator." ||
				out != "+19195551003: Carol, Bob is now on call: the team config was changed by an operator. You are no longer on call." {
				t.Fatalf("texts %v", tx.byID)
			}
			// The same write told again: the same ids, nothing more sent.
			if _, err := ConfigWritten(ctx, tx, before, after, `"v1"`, `"v2"`, now); err != nil {
				t.Fatal(err)
			}
			if len(tx.byID) != 2 || len(tx.dups) != 2 {
				t.Fatalf("telling the same write again: %v, duplicates %v", tx.byID, tx.dups)
			}
			// Another write making the same change is told afresh.
			if _, err := ConfigWritten(ctx, tx, before, after, `"v3"`, `"v2"`, now); err != nil || len(tx.byID) != 4 {
				t.Fatalf("another write: %v %v", tx.byID, err)
			}
		})
	}
}

// A write that keeps the on-call tells nobody; one over a config that did
// not parse tells only who is on call now.
func TestConfigWrittenKeptOrNoBefore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)
	base := string(configJSON("2027-01-04T09:00", ""))
	cfg := mustParse(t, base)
	tx := &texts{byID: map[string]string{}}
	if told, err := ConfigWritten(ctx, tx, cfg, mustParse(t, strings.Replace(base, `"ops_note": "kept"`, `"ops_note": "changed"`, 1)), "a", "b", now); err != nil || len(told) != 0 || len(tx.byID) != 0 {
		t.Fatalf("kept on-call: told %v, texts %v, %v", told, tx.byID, err)
	}
	told, err := ConfigWritten(ctx, tx, nil, cfg, "", "b", now)
	if err != nil || len(told) != 1 || told[0] != (Told{Phone: "+19195551001", OnCall: true}) || len(tx.byID) != 1 {
		t.Fatalf("no config before: told %v, texts %v, %v", told, tx.byID, err)
	}
}
