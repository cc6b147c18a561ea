package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/oncall/pager/app"
)

// healthcheck is the container's probe: distroless images have no shell or
// curl, so the binary asks itself.
func healthcheck(ctx context.Context, args []string, stderr io.Writer) error {
	s, _ := app.SettingsFromEnv(os.Getenv)
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "http://"+dialable(s.ListenAddr)+"/livez", "the pager's liveness URL")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not answering: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", *target, resp.Status)
	}
	return nil
}
