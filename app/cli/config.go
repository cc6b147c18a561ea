package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/schedule/handover"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/store"
)

func configCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("want validate, init, pull or push")}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("config "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	force := fs.Bool("force", false, "push: overwrite even if the stored config changed since pull (shows the diff and asks first)")
	yes := fs.Bool("yes", false, "push --force: do not ask for confirmation")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	switch sub {
	case "validate":
		if fs.NArg() != 1 {
			return usageError{errors.New("want: config validate FILE")}
		}
		data, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		return validate(data, fs.Arg(0), stdout)
	case "init", "pull", "push":
		s, err := app.SettingsFromEnv(os.Getenv)
		if err != nil {
			return err
		}
		st, err := app.OpenStore(ctx, s)
		if err != nil {
			return err
		}
		file := fs.Arg(0)
		if sub == "init" {
			return initConfig(ctx, st, s.ConfigKey(), file, stdout)
		}
		if sub == "pull" {
			return pull(ctx, st, s.ConfigKey(), file, stdout)
		}
		if file == "" {
			return usageError{errors.New("want: config push FILE")}
		}
		return push(ctx, st, s.ConfigKey(), file, pushOpts{force: *force, yes: *yes, stdin: stdin}, stdout)
	default:
		return usageError{fmt.Errorf("unknown config command %q", sub)}
	}
}

func validate(data []byte, name string, stdout io.Writer) error {
	cfg, err := team.Parse(data)
	var ve *team.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintf(stdout, "%s: error: %s: %s\n", name, p.Path, p.Message)
		}
		return fmt.Errorf("%s: %d problem(s)", name, len(ve.Problems))
	}
	if err != nil {
		return err
	}
	// The only clock read in validation: gaps in the schedule are about
	// the coming 30 days.
	for _, p := range append(team.Warnings(cfg), team.ScheduleWarnings(cfg, time.Now())...) {
		fmt.Fprintf(stdout, "%s: warning: %s: %s\n", name, p.Path, p.Message)
	}
	fmt.Fprintf(stdout, "%s: ok (%d users)\n", name, len(cfg.AvailableUsers.Users))
	return nil
}

func pull(ctx context.Context, st store.Store, key, file string, stdout io.Writer) error {
	obj, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("there is no %s in %s yet (not found): create it with `oncall-pager config init [FILE]`", key, st)
	}
	if err != nil {
		return fmt.Errorf("read %s from %s: %w", key, st, err)
	}
	if file == "" || file == "-" {
		_, err := stdout.Write(obj.Data)
		return err
	}
	if err := os.WriteFile(file, obj.Data, 0o600); err != nil {
		return err
	}
	// The ETag lets push refuse to overwrite a change made since (a TAKE).
	if err := os.WriteFile(file+".etag", []byte(obj.ETag+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pulled %s from %s into %s (etag %s)\n", key, st, file, obj.ETag)
	return nil
}

type pushOpts struct {
	force, yes bool
	stdin      io.Reader
}

func push(ctx context.Context, st store.Store, key, file string, o pushOpts, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := validate(data, file, stdout); err != nil {
		return fmt.Errorf("not pushed: %w", err)
	}
	stored, err := st.Get(ctx, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read %s from %s: %w", key, st, err)
	}
	cond := store.Cond{}
	if o.force {
		// Overwrite exactly what was shown: a change made while the
		// operator reads the diff still refuses the push.
		cond.IfMatch = stored.ETag
		if stored.ETag == "" {
			cond = store.Cond{IfNoneMatch: true}
		}
		d := lineDiff(string(stored.Data), string(data))
		if d == "" {
			fmt.Fprintf(stdout, "%s is already what %s holds: nothing to push\n", file, key)
			return nil
		}
		fmt.Fprintf(stdout, "--- %s in %s (stored)\n+++ %s\n%s", key, st, file, d)
		if !o.yes && !confirm(o.stdin, stdout, "overwrite the stored config with this? [y/N] ") {
			return errors.New("not pushed: not confirmed (--yes skips the question)")
		}
	} else {
		etag, err := os.ReadFile(file + ".etag")
		if err != nil {
			return fmt.Errorf("no %s.etag from `oncall-pager config pull`: pull first, or push --force to overwrite after seeing the diff", file)
		}
		cond.IfMatch = strings.TrimSpace(string(etag))
	}
	etag, err := st.Put(ctx, key, data, cond)
	if errors.Is(err, store.ErrPrecondition) {
		return fmt.Errorf("not pushed: %s changed in %s since you pulled it (someone took the pager or pushed); pull again and re-apply your edit", key, st)
	}
	if err != nil {
		return fmt.Errorf("write %s to %s: %w", key, st, err)
	}
	_ = os.WriteFile(file+".etag", []byte(etag+"\n"), 0o600)
	fmt.Fprintf(stdout, "pushed %s to %s (etag %s); running pagers pick it up within their refresh interval\n", file, st, etag)
	return tellHandOver(ctx, st, stored.Data, data, stored.ETag, etag, stdout)
}

// tellHandOver tells both people when the push changed who is on call.
// The running pager sends what is queued here.
func tellHandOver(ctx context.Context, st store.Store, before, after []byte, prevETag, etag string, stdout io.Writer) error {
	newCfg, err := team.Parse(after)
	if err != nil {
		return nil
	}
	// A stored config that did not parse names nobody to tell.
	oldCfg, _ := team.Parse(before)
	told, err := handover.ConfigWritten(ctx, app.Texter(jobs.New(st, jobs.Options{})), oldCfg, newCfg, prevETag, etag, time.Now())
	for _, t := range told {
		fmt.Fprintf(stdout, "queued a text to %s (%s)\n", t.Phone, map[bool]string{true: "now on call", false: "no longer on call"}[t.OnCall])
	}
	if err != nil {
		return fmt.Errorf("pushed, but the hand-over texts were not queued: %w", err)
	}
	return nil
}

func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprint(out, question)
	if in == nil {
		return false
	}
	line, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// initConfig creates the stored config only if there is none: the first
// step on an empty bucket, which never overwrites a team's config.
func initConfig(ctx context.Context, st store.Store, key, file string, stdout io.Writer) error {
	data, from := team.DefaultConfig(), "the example team"
	if file != "" {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return err
		}
		if err := validate(data, file, stdout); err != nil {
			return fmt.Errorf("not created: %w", err)
		}
		from = file
	}
	etag, err := st.Put(ctx, key, data, store.Cond{IfNoneMatch: true})
	if errors.Is(err, store.ErrPrecondition) {
		return fmt.Errorf("%s already exists in %s: nothing changed; edit it with `oncall-pager config pull` and `push`", key, st)
	}
	if err != nil {
		return fmt.Errorf("write %s to %s: %w", key, st, err)
	}
	fmt.Fprintf(stdout, "created %s in %s from %s (etag %s)\n", key, st, from, etag)
	return nil
}
