package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/schedule"
	"github.com/oncall/pager/app/team"
)

const scheduleUsage = "want: schedule show [--days N] [--user ID] | schedule override USER FROM TO | schedule token new [--user ID] [--name NAME]"

// scheduleCmd shows the schedule and changes it in the stored config, each
// change with a conditional write (If-Match) after validation.
func scheduleCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New(scheduleUsage)}
	}
	sub, args := args[0], args[1:]
	if sub == "token" {
		if len(args) == 0 || args[0] != "new" {
			return usageError{errors.New(scheduleUsage)}
		}
		sub, args = "token new", args[1:]
	}
	fs := flag.NewFlagSet("schedule "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	days := fs.Int("days", 14, "show: how many days ahead")
	user := fs.String("user", "", "show: only this member's shifts; token new: a feed of this member's shifts")
	file := fs.String("file", "", "show: read this config file instead of the stored config")
	from := fs.String("from", "", "show: start here (RFC 3339) instead of now")
	name := fs.String("name", "", "token new: the calendar_tokens entry's name (default: the user, or team)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	switch sub {
	case "show":
		if fs.NArg() != 0 || *days < 1 || *days > 366 {
			return usageError{errors.New("want: schedule show [--days N (1 to 366)] [--user ID]")}
		}
		cfg, err := loadForShow(ctx, *file)
		if err != nil {
			return err
		}
		now := time.Now()
		if *from != "" {
			if now, err = time.Parse(time.RFC3339, *from); err != nil {
				return usageError{fmt.Errorf("--from: %w", err)}
			}
		}
		return showSchedule(cfg, now, *days, *user, stdout)
	case "override":
		if fs.NArg() != 3 {
			return usageError{errors.New("want: schedule override USER FROM TO (times like 2026-12-02T09:00 in current_config.timezone, or with an offset)")}
		}
		return addOverride(ctx, fs.Arg(0), fs.Arg(1), fs.Arg(2), stdout)
	case "token new":
		if fs.NArg() != 0 {
			return usageError{errors.New("want: schedule token new [--user ID] [--name NAME]")}
		}
		// An empty --name is refused, as the console refuses an empty name,
		// not taken for the default.
		named := false
		fs.Visit(func(f *flag.Flag) { named = named || f.Name == "name" })
		return newCalendarToken(ctx, *user, *name, named, stdout)
	}
	return usageError{errors.New(scheduleUsage)}
}

func loadForShow(ctx context.Context, file string) (*team.Config, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return team.Parse(data)
	}
	m, _, err := storedManager(ctx)
	if err != nil {
		return nil, err
	}
	return m.Current(), nil
}

func storedManager(ctx context.Context) (*team.Manager, app.Settings, error) {
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return nil, s, err
	}
	st, err := app.OpenStore(ctx, s)
	if err != nil {
		return nil, s, err
	}
	m := team.NewManager(st, s.ConfigKey(), team.ManagerOptions{})
	if err := m.Load(ctx); err != nil {
		return nil, s, err
	}
	return m, s, nil
}

func showSchedule(cfg *team.Config, now time.Time, days int, user string, stdout io.Writer) error {
	sched, ok := cfg.OnCallSchedule()
	if !ok {
		fmt.Fprintln(stdout, "no schedule section: the on-call changes only with TAKE")
		return nil
	}
	if user != "" {
		if _, known := cfg.UserByID(user); !known {
			return usageError{fmt.Errorf("--user %q is not in available_users", user)}
		}
	}
	until := now.Add(time.Duration(days) * 24 * time.Hour)
	shifts := sched.Shifts(now, 10000, until)
	loc := sched.Location()
	const layout = "Mon 2006-01-02 15:04 MST"
	fmt.Fprintf(stdout, "shifts from %s for %d days (%s):\n", now.In(loc).Format(layout), days, loc)
	for _, sh := range shifts {
		if user != "" && sh.Member != user {
			continue
		}
		end := "(no end within the window)"
		if !sh.End.IsZero() {
			end = sh.End.In(loc).Format(layout)
		}
		who := "nobody"
		if u, ok := cfg.UserByID(sh.Member); ok {
			who = u.Name + " (" + u.ID + ")"
		}
		fmt.Fprintf(stdout, "%s  to  %s  %s  [%s]\n", sh.Start.In(loc).Format(layout), end, who, source(sched, sh.Source))
	}
	return nil
}

func source(s *schedule.Schedule, src schedule.Source) string {
	switch src.Kind {
	case schedule.ByRotation:
		return "rotation " + s.Rotations()[src.Index].Name
	case schedule.ByOverride:
		return "override"
	}
	return "current_config.oncall_user"
}

func addOverride(ctx context.Context, user, from, to string, stdout io.Writer) error {
	m, _, err := storedManager(ctx)
	if err != nil {
		return err
	}
	cfg, err := m.Update(ctx, "cli", func(cfg *team.Config, doc *jsondoc.Doc) error {
		if _, ok := cfg.UserByID(user); !ok {
			return fmt.Errorf("%q is not in available_users", user)
		}
		loc := cfg.CurrentConfig.Location()
		f, err := schedule.ParseInstant(from, loc)
		if err != nil {
			return fmt.Errorf("FROM: %w", err)
		}
		t, err := schedule.ParseInstant(to, loc)
		if err != nil {
			return fmt.Errorf("TO: %w", err)
		}
		raw, _ := doc.Get([]string{"schedule", "overrides"})
		items, _ := raw.([]any)
		o := jsondoc.NewObject()
		for _, kv := range [][2]string{{"member", user}, {"from", f.Format(time.RFC3339)}, {"to", t.Format(time.RFC3339)}, {"by", "CLI"}} {
			if err := o.Set(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return doc.Set([]string{"schedule", "overrides"}, append(items, o))
	})
	var ve *team.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintf(stdout, "error: %s: %s\n", p.Path, p.Message)
		}
		return fmt.Errorf("override not added: %d problem(s)", len(ve.Problems))
	}
	if err != nil {
		return fmt.Errorf("override not added: %w", err)
	}
	fmt.Fprintf(stdout, "override added: %s from %s to %s (config version %s)\n", user, from, to, m.Status().ETag)
	for _, w := range team.ScheduleWarnings(cfg, time.Now()) {
		fmt.Fprintf(stdout, "warning: %s: %s\n", w.Path, w.Message)
	}
	return nil
}

func newCalendarToken(ctx context.Context, user, name string, named bool, stdout io.Writer) error {
	if !named {
		name = "team"
		if user != "" {
			name = user
		}
	}
	if !team.ValidKeyName(name) {
		if !named {
			return usageError{fmt.Errorf("the default name %q (the member's id) will not do: %s; choose one with --name", name, team.KeyNameRule)}
		}
		return usageError{fmt.Errorf("--name %q: %s", name, team.KeyNameRule)}
	}
	token, err := team.NewCalendarToken()
	if err != nil {
		return err
	}
	m, s, err := storedManager(ctx)
	if err != nil {
		return err
	}
	// Stored before the token is shown: a token without its entry is useless.
	_, err = m.Update(ctx, "cli", func(cfg *team.Config, doc *jsondoc.Doc) error {
		return team.AddCalendarToken(cfg, doc, name, user, token)
	})
	if err != nil {
		return fmt.Errorf("token not added: %w", err)
	}
	base := strings.TrimSuffix(s.BaseURL, "/")
	if base == "" {
		base = "https://<ONCALL_APP_BASE_URL>"
	}
	fmt.Fprintf(stdout, "calendar token %q added to schedule.calendar_tokens (shown once: only its SHA-256 is stored).\n\nsubscribe to:\n\n  %s/calendar/%s.ics\n", name, base, token)
	return nil
}
