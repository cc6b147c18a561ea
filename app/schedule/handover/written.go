package handover

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/oncall/pager/app/schedule"
	"github.com/oncall/pager/app/team"
)

// Told is one hand-over text a whole-config write queued.
type Told struct {
	Phone string
	// OnCall: the text went to who is on call now, not to who was.
	OnCall bool
}

// ConfigWritten tells the people concerned when a whole-config write
// (config push, a save in the console) changed who is on call, as a TAKE
// tells them, and says what it queued. before is the config the write
// replaced (nil when there was none, or it did not parse), after the one
// written with the ETag etag, prevETag the replaced version's.
//
// Every writer of the whole document calls this one function, so a change
// of on-call is told whichever way it was written. When the schedule
// decides who is on call at now, nothing is sent: its own hand-over either
// keeps the member the write named or writes the schedule's member back
// and tells both, and a text from here would contradict it a moment later.
//
// Texts are queued under ids derived from both versions' ETags: telling
// the same write again (a retry) sends nothing more.
func ConfigWritten(ctx context.Context, t Texter, before, after *team.Config, prevETag, etag string, now time.Time) ([]Told, error) {
	in, ok := after.OnCall()
	if !ok {
		return nil, nil
	}
	out, _ := before.OnCall()
	if in.ID == out.ID || scheduleDecides(after, now) {
		return nil, nil
	}
	sum := sha256.Sum256([]byte(prevETag + "\n" + etag))
	id := "config-write-" + hex.EncodeToString(sum[:12])
	from := after.CurrentConfig.FromPhone
	var told []Told
	var errs []error
	if in.Phone != "" {
		body := fmt.Sprintf("%s, you are now on call: the team config was changed by an operator.", in.Name)
		if err := t.TextOnce(ctx, id+"-in", from, in.Phone, body); err != nil {
			errs = append(errs, err)
		} else {
			told = append(told, Told{Phone: in.Phone, OnCall: true})
		}
	}
	if out.Phone != "" && out.Phone != in.Phone {
		body := fmt.Sprintf("%s, %s is now on call: the team config was changed by an operator. You are no longer on call.", out.Name, in.Name)
		if err := t.TextOnce(ctx, id+"-out", from, out.Phone, body); err != nil {
			errs = append(errs, err)
		} else {
			told = append(told, Told{Phone: out.Phone})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return told, fmt.Errorf("handover: on-call changed by a config write, but not told: %w", err)
	}
	return told, nil
}

// scheduleDecides reports whether the schedule's hand-over owns who is on
// call at now: as apply decides, a moment left to the fallback, or to a
// member it would not hand the pager to, stays with what the config says.
func scheduleDecides(cfg *team.Config, now time.Time) bool {
	sched, ok := cfg.OnCallSchedule()
	if !ok {
		return false
	}
	who, src := sched.Who(now)
	return who != "" && src.Kind != schedule.ByFallback && takes(cfg, who)
}
