package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/heartbeat"
)

// heartbeatCmd is `oncall-pager heartbeat list`: every configured
// heartbeat with its last beat and state, read from the store the pager
// uses.
func heartbeatCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "list" {
		return usageError{errors.New("want: heartbeat list")}
	}
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, s, app.Options{Logger: newLogger(s, stderr)})
	if err != nil {
		return err
	}
	list, err := a.Heartbeats.List(ctx)
	if err != nil {
		return err
	}
	printHeartbeats(stdout, list, a.Team.Current().CurrentConfig.Location())
	return nil
}

func printHeartbeats(w io.Writer, list []heartbeat.Status, loc *time.Location) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no heartbeats configured")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tLAST BEAT\tFROM\tDUE\tSTATUS")
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.In(loc).Format("2006-01-02 15:04 MST")
	}
	for _, h := range list {
		state := string(h.State)
		if h.AlertID != "" {
			state += " (alert " + h.AlertID + ")"
		}
		from, status := h.From, h.Status
		if from == "" {
			from = "-"
		}
		if status == "" {
			status = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, state, at(h.Last), from, at(h.Due), status)
	}
	tw.Flush()
}
