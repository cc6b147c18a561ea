package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/jobs"
)

// jobsCmd lists and cancels the durable jobs of the store the settings name,
// so an operator never deletes files under jobs/ by hand.
func jobsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("want: jobs list | jobs cancel ID")}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("jobs "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	reason := fs.String("reason", "canceled by an operator", "cancel: recorded as the steps' error")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, s)
	if err != nil {
		return err
	}
	q := jobs.New(st, jobs.Options{})
	switch sub {
	case "list":
		if fs.NArg() != 0 {
			return usageError{errors.New("want: jobs list")}
		}
		js, err := q.Queued(ctx)
		if err != nil {
			return err
		}
		printJobs(stdout, js, time.Now())
		return nil
	case "cancel":
		if fs.NArg() != 1 {
			return usageError{errors.New("want: jobs cancel ID")}
		}
		j, err := q.Cancel(ctx, fs.Arg(0), *reason)
		if errors.Is(err, jobs.ErrNotFound) {
			return fmt.Errorf("no job %q (`oncall-pager jobs list` shows the queued ones)", fs.Arg(0))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "canceled %s: %s\n", j.ID, stepSummary(j))
		return nil
	default:
		return usageError{fmt.Errorf("unknown jobs command %q", sub)}
	}
}

func printJobs(w io.Writer, js []jobs.Job, now time.Time) {
	if len(js) == 0 {
		fmt.Fprintln(w, "no jobs queued")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tAGE\tNEXT DUE\tSTEPS")
	var next time.Time
	for _, j := range js {
		due := j.NextDue()
		if !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.ID, j.Kind, now.Sub(j.CreatedAt).Round(time.Second), dueWords(due, now), stepSummary(j))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d queued; oldest %s old", len(js), now.Sub(js[0].CreatedAt).Round(time.Second))
	if !next.IsZero() {
		fmt.Fprintf(w, "; next step due %s", dueWords(next, now))
	}
	fmt.Fprintln(w)
}

func dueWords(due, now time.Time) string {
	switch {
	case due.IsZero():
		return "-"
	case !due.After(now):
		return "now"
	default:
		return "in " + due.Sub(now).Round(time.Second).String()
	}
}

func stepSummary(j jobs.Job) string {
	parts := make([]string, 0, len(j.Steps))
	for _, s := range j.Steps {
		p := s.Name + "=" + string(s.State)
		if s.Attempts > 0 && s.State != jobs.StepDone {
			p += fmt.Sprintf("(%d tries", s.Attempts)
			if s.LastError != "" {
				e := s.LastError
				if len(e) > 60 {
					e = e[:60] + "..."
				}
				p += ": " + e
			}
			p += ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}
