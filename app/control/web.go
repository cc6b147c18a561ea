package control

import (
	"context"
	"errors"
	"time"

	"github.com/oncall/pager/app/sessions"
	"github.com/oncall/pager/app/team"
)

// Take, Confirm and Cancel are TAKE, C and X for a member acting elsewhere
// than by text (the web console): the same confirmation window, keyed by the
// member's number, so a TAKE asked on the web may be confirmed by text and
// the other way round. Each returns the reply the text would get.
func (h *Handler) Take(ctx context.Context, user team.User) string {
	return h.take(ctx, h.cfg.Current(), user, "TAKE")
}

// Confirm is C (see Take).
func (h *Handler) Confirm(ctx context.Context, user team.User) string {
	return h.confirm(ctx, user)
}

// Cancel is X (see Take).
func (h *Handler) Cancel(ctx context.Context, user team.User) string {
	return h.cancel(ctx, h.cfg.Current(), user)
}

// Pending reports until when user's TAKE waits for confirmation (zero when
// none does).
func (h *Handler) Pending(ctx context.Context, user team.User) (time.Time, error) {
	sess, err := h.sessions.Peek(ctx, user.Phone)
	if errors.Is(err, sessions.ErrNone) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return sess.Expires, nil
}
