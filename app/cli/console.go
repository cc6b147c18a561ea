package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/signin"
)

// consoleCmd is `oncall-pager console rotate-key`: sign new console sessions with a
// fresh key. Sessions signed with the previous key stay valid; those two
// rotations old end (within a minute on every replica).
func consoleCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "rotate-key" {
		return usageError{errors.New("want: console rotate-key")}
	}
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, s)
	if err != nil {
		return err
	}
	if err := signin.New(signin.Options{Store: st}).RotateKey(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "console session key rotated in %s\n", st)
	return nil
}
