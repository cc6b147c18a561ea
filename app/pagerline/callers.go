package pagerline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/store"
)

// One caller must not be able to flood the on-call through the pager line.
// Each caller gets DefaultCallerLimit pages (missed-call texts and
// voicemail texts and calls, a voicemail counting once) per window of
// DefaultCallerWindow; calls past it page nobody, and one text at the end
// of the window bundles them ("18 more calls from +1..."). Their voicemails
// are still stored and emailed, as every voicemail is.
const (
	DefaultCallerLimit  = 3
	DefaultCallerWindow = time.Hour

	// KindCallerDigest is the job sending a window's bundled text.
	KindCallerDigest jobs.Kind = "caller_digest"

	// DigestGrace is how long after its window's end the bundled text is
	// sent. A call is held only while its window lasts; one held just
	// before the end (by a replica whose clock is a little behind, or
	// whose write is slow) is in the window before the digest reads it.
	DigestGrace = time.Minute
)

// maxHeldIDs bounds the held job ids a window keeps to recognise a
// retried callback; past it calls are only counted.
const maxHeldIDs = 100

// callerWindow is one caller's window: the jobs that paged, those held.
type callerWindow struct {
	Caller     string    `json:"caller"`
	Start      time.Time `json:"start"`
	Paged      []string  `json:"paged"`
	Held       []string  `json:"held,omitempty"`
	HeldCount  int       `json:"held_count"`
	Voicemails int       `json:"held_voicemails"`
}

// callerDigest is the digest job's payload.
type callerDigest struct {
	Key    string    `json:"key"`
	Caller string    `json:"caller"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// callerKey names a caller's window: fixed windows, so every replica
// counts into the same object without coordination.
func (h *Handler) callerKey(caller string, start time.Time) string {
	id := safeID(caller)
	if id == "" {
		id = "unknown"
	}
	return "pagerline/callers/" + id + "/" + strconv.FormatInt(start.Unix(), 10) + ".json"
}

// admitPage reports whether job jobID, a call from caller at "at", may
// page the on-call, counting it in the caller's window (once: every step
// of the job asking again gets the same answer). It runs in the job's
// steps, never in the recording callback, which answers Twilio after as
// few store calls as it can.
//
// A call past the limit is held only while its window lasts. Once the
// window is over its digest is due or already sent (a finished job is not
// queued again), so a call asking that late (its job queued or run late)
// pages the on-call itself, or nobody would ever hear of it.
func (h *Handler) admitPage(ctx context.Context, caller, jobID string, voicemail bool, at time.Time) (bool, error) {
	start := at.UTC().Truncate(h.callerWindow)
	end := start.Add(h.callerWindow)
	key := h.callerKey(caller, start)
	for range 10 {
		w := callerWindow{Caller: caller, Start: start}
		cond := store.Cond{IfNoneMatch: true}
		obj, err := h.st.Get(ctx, key)
		switch {
		case err == nil:
			if err := json.Unmarshal(obj.Data, &w); err != nil {
				h.log.Error("pagerline: unreadable caller window; paging", "key", key, "err", err)
				return true, nil
			}
			cond = store.Cond{IfMatch: obj.ETag}
		case !errors.Is(err, store.ErrNotFound):
			return false, fmt.Errorf("caller window: %w", err)
		}
		if slices.Contains(w.Paged, jobID) {
			return true, nil
		}
		if slices.Contains(w.Held, jobID) {
			return false, nil
		}
		page := len(w.Paged) < h.callerLimit
		late := !page && !h.now().Before(end)
		if page || late {
			w.Paged = append(w.Paged, jobID)
		} else {
			if len(w.Held) < maxHeldIDs {
				w.Held = append(w.Held, jobID)
			}
			w.HeldCount++
			if voicemail {
				w.Voicemails++
			}
		}
		data, _ := json.Marshal(w)
		_, err = h.st.Put(ctx, key, data, cond)
		if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("caller window: %w", err)
		}
		if page {
			return true, nil
		}
		if late {
			h.log.Info("pagerline: caller over the limit, but the window's digest is due or sent; paging",
				"caller", caller, "job", jobID, "window_end", end)
			return true, nil
		}
		h.log.Info("pagerline: caller over the limit; bundled into one text at the end of the window",
			"caller", caller, "job", jobID, "held", w.HeldCount)
		return false, h.queueDigest(ctx, caller, key, start)
	}
	return true, nil
}

// queueDigest (re)enqueues the window's one bundled text: every held call
// does, so a crash between the window's write and this loses nothing.
func (h *Handler) queueDigest(ctx context.Context, caller, key string, start time.Time) error {
	end := start.Add(h.callerWindow)
	payload, _ := json.Marshal(callerDigest{Key: key, Caller: caller, Start: start, End: end})
	_, err := h.q.Enqueue(ctx, jobs.Job{ID: "callers-" + safeID(caller) + "-" + strconv.FormatInt(start.Unix(), 10),
		Kind: KindCallerDigest, Payload: payload, Steps: []jobs.Step{{Name: StepText, NextAt: end.Add(DigestGrace)}}})
	if err != nil {
		return fmt.Errorf("caller digest: %w", err)
	}
	return nil
}

// heldBack reports whether the voicemail or missed call of job pages
// nobody, its caller being over the limit.
func (h *Handler) heldBack(ctx context.Context, job *jobs.Job, v Voicemail) (bool, error) {
	ok, err := h.admitPage(ctx, v.CallerNum, job.ID, job.Kind == KindVoicemail, v.Received)
	return !ok, err
}

// heldDelivery is what a page step records when the caller's limit held it
// back.
var heldDelivery = Delivery{Status: "held: caller over the limit; bundled into one text"}

// stepCallerDigest texts the on-call the calls a caller's window held back.
// It sends as the other page steps do: a retry or a takeover first looks
// for the text on Twilio (its body is the same on every attempt), and a
// text whose rate slot is further off gives its worker back
// (outbound.ErrDeferred, returned as is).
func (h *Handler) stepCallerDigest(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
	var d callerDigest
	if err := job.Decode(&d); err != nil {
		return nil, jobs.Permanent(err)
	}
	obj, err := h.st.Get(ctx, d.Key)
	if err != nil {
		return nil, fmt.Errorf("caller window: %w", err)
	}
	var w callerWindow
	if err := json.Unmarshal(obj.Data, &w); err != nil {
		return nil, jobs.Permanent(err)
	}
	if w.HeldCount == 0 {
		return nil, nil
	}
	cfg := h.cfg.Current()
	oc, _ := cfg.OnCall()
	if oc.Phone == "" {
		return nil, jobs.Permanent(errors.New("nobody is on call"))
	}
	caller := d.Caller
	if caller == "" {
		caller = "an unknown caller"
	}
	body := fmt.Sprintf("%d more calls from %s on the pager line between %s and %s UTC", w.HeldCount, caller,
		d.Start.Format("15:04"), d.End.Format("15:04"))
	if w.Voicemails > 0 {
		body += fmt.Sprintf("; %d left a voicemail (stored and emailed)", w.Voicemails)
	}
	body += "."
	sent, err := h.out.SendTextStep(ctx, h.q, job, step, outbound.Text{From: cfg.CurrentConfig.FromPhone, To: oc.Phone, Body: body})
	if err != nil {
		return nil, err
	}
	h.audit.Try(ctx, audit.Entry{Actor: "pagerline", Action: audit.ActionPage, Source: oc.Phone, Detail: "caller digest sent " + sent.SID})
	return Delivery{SID: sent.SID, Status: sent.Status}, nil
}
