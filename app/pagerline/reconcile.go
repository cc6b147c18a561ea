package pagerline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/oncall/pager/app/jobs"
	"time"
)

// ReconcileWindow is how far back each sweep looks on Twilio: a voicemail
// whose job was lost (the store was down when its callback came and the
// process died before the background retry got through) is recovered as
// long as its recording is younger than this.
const ReconcileWindow = 24 * time.Hour

// Run binds the handler's background work to ctx and, when every is
// positive, sweeps Twilio for lost voicemails now and then every interval
// until ctx ends.
func (h *Handler) Run(ctx context.Context, every time.Duration) {
	h.mu.Lock()
	h.life = ctx
	h.mu.Unlock()
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := h.Reconcile(ctx, h.now().Add(-ReconcileWindow)); err != nil && ctx.Err() == nil {
			h.log.WarnContext(ctx, "pagerline: reconciliation sweep incomplete; retried later", "recovered", n, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reconcile enqueues the voicemail job of every completed <Record> recording
// since since, left on a call to the pager line, that has no job (active or
// done): the callback's job was lost. It returns how many it recovered. It
// goes on past a failing recording and returns the errors joined.
func (h *Handler) Reconcile(ctx context.Context, since time.Time) (int, error) {
	recs, err := h.rec.ListRecordings(ctx, since)
	if err != nil {
		return 0, fmt.Errorf("pagerline: reconcile: %w", err)
	}
	var errs []error
	recovered, checked, known := 0, 0, 0
	defer func() {
		h.log.Info("pagerline: reconciliation sweep", "since", since.UTC().Format(time.RFC3339), "recordings", len(recs),
			"checked", checked, "known", known, "recovered", recovered, "errors", len(errs))
	}()
	for _, r := range recs {
		if r.Status != "completed" || r.Source != "RecordVerb" || r.CallSID == "" {
			continue
		}
		checked++
		sid := safeID(r.SID)
		// Known first: it is a store read, where FetchCall costs a Twilio
		// request on every sweep.
		isKnown, err := h.known(ctx, sid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if isKnown {
			known++
			continue
		}
		ok, err := h.recover(ctx, r.SID, r.CallSID, r.URL, r.Duration, r.DateCreated)
		if err != nil {
			errs = append(errs, fmt.Errorf("recording %s: %w", r.SID, err))
			continue
		}
		if ok {
			recovered++
		}
	}
	return recovered, errors.Join(errs...)
}

// recover enqueues one recording's voicemail job if its call went to the
// pager line; it reports whether it created the job.
func (h *Handler) recover(ctx context.Context, recSID, callSID, recURL string, duration int, created time.Time) (bool, error) {
	call, err := h.rec.FetchCall(ctx, callSID)
	if err != nil {
		return false, fmt.Errorf("fetch call: %w", err)
	}
	cfg := h.cfg.Current()
	if call.To == "" || call.To != cfg.CurrentConfig.PagerPhone {
		return false, nil
	}
	v := Voicemail{
		RecordingSID: safeID(recSID),
		RecordingURL: recURL,
		Duration:     max(duration, 0),
		CallSID:      safeID(callSID),
		CallerNum:    call.From,
		CallerName:   call.CallerName,
		Received:     h.now().UTC(),
	}
	v.address(cfg)
	if !created.IsZero() {
		// When the customer called, not when we noticed.
		v.Received = created.UTC()
	}
	job := h.voicemailJob(&v)
	payload, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	job.Payload = payload
	job.CreatedAt = h.now().UTC()
	ok, err := h.q.Enqueue(ctx, job)
	if err != nil {
		return false, err
	}
	if ok {
		h.log.WarnContext(ctx, "pagerline: voicemail recovered from Twilio", "job", job.ID, "call_sid", v.CallSID,
			"caller", v.CallerNum, "created", created)
	}
	return ok, nil
}

// known reports whether recording sid already has a voicemail job (active
// or done). A store error reports false with the error.
func (h *Handler) known(ctx context.Context, sid string) (bool, error) {
	_, err := h.q.Get(ctx, "vm-"+sid)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, jobs.ErrNotFound) {
		return false, nil
	}
	return false, err
}
