package pagerline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/page"
	"github.com/oncall/pager/app/retry"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/twiml"
)

// Job kinds and steps of the pager line.
const (
	KindVoicemail jobs.Kind = "voicemail"
	KindMissed    jobs.Kind = "missed_call"

	StepStore  = "store"
	StepEmail  = "email"
	StepText   = "text"
	StepCall   = "call"
	StepDelete = "delete"
)

// maxFallbacks bounds how often a failed page is retried by the other path.
const maxFallbacks = 3

// Voicemail is the voicemail job's payload: everything needed to deliver it,
// fixed when the callback arrives so a retry hours later pages the engineer
// who was on call when the customer called.
type Voicemail struct {
	RecordingSID string    `json:"recording_sid"`
	RecordingURL string    `json:"recording_url"`
	Duration     int       `json:"duration"`
	CallSID      string    `json:"call_sid"`
	CallerNum    string    `json:"caller_num,omitempty"`
	CallerName   string    `json:"caller_name,omitempty"`
	City         string    `json:"city,omitempty"`
	State        string    `json:"state,omitempty"`
	Received     time.Time `json:"received"`
	Key          string    `json:"key"`
	OnCallID     string    `json:"oncall_id"`
	OnCallName   string    `json:"oncall_name"`
	OnCallPhone  string    `json:"oncall_phone"`
	FromPhone    string    `json:"from_phone"`
	DeleteAfter  bool      `json:"delete_after_store,omitempty"`
	// AlertID and AlertCode name the voicemail's alert when it was
	// triggered as the callback arrived.
	AlertID   string `json:"alert_id,omitempty"`
	AlertCode string `json:"alert_code,omitempty"`
}

// address fixes who the voicemail pages: whoever is on call now, from the
// pager's sending number. This is the one place that decides it: the pager
// line pages the on-call itself (the recording by text, then a call), and
// the voicemail's alert lists them as paged by its source
// (alerts.TriggerOptions.PrePaged), so the escalation's first round pages
// only the others its policy names.
func (v *Voicemail) address(cfg *team.Config) {
	oc, _ := cfg.OnCall()
	v.OnCallID, v.OnCallName, v.OnCallPhone = oc.ID, oc.Name, oc.Phone
	v.FromPhone = cfg.CurrentConfig.FromPhone
	v.DeleteAfter = cfg.CurrentConfig.DeleteRecordingAfterStore
}

// Metadata is the JSON stored beside each recording.
type Metadata struct {
	CallerNum    string    `json:"caller_num,omitempty"`
	CallerName   string    `json:"caller_name,omitempty"`
	City         string    `json:"city,omitempty"`
	State        string    `json:"state,omitempty"`
	Duration     int       `json:"duration"`
	CallSID      string    `json:"call_sid"`
	RecordingSID string    `json:"recording_sid"`
	Received     time.Time `json:"received"`
	Bytes        int       `json:"bytes"`
}

// Delivery is what a page step records, updated by status callbacks.
type Delivery struct {
	SID       string `json:"sid"`
	Status    string `json:"status,omitempty"`
	ErrorCode string `json:"error_code,omitempty"`
	MMS       bool   `json:"mms,omitempty"`
	SMSOnly   bool   `json:"sms_only,omitempty"`
	Fallbacks int    `json:"fallbacks,omitempty"`
	Tries     int    `json:"tries,omitempty"`
}

func (v Voicemail) caller() string {
	switch {
	case v.CallerName != "" && v.CallerNum != "":
		return v.CallerName + " <" + v.CallerNum + ">"
	case v.CallerNum != "":
		return v.CallerNum
	case v.CallerName != "":
		return v.CallerName
	default:
		return "an unknown caller"
	}
}

func (v Voicemail) place() string {
	return strings.TrimSpace(strings.Trim(v.City+", "+v.State, ", "))
}

func safeID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
}

// ServeRecordingCallback is POST /public/recordingcb. It answers only after
// the voicemail job is durably in the store; the deliveries run after.
func (h *Handler) ServeRecordingCallback(c echo.Context) error {
	ctx := c.Request().Context()
	status := c.FormValue("RecordingStatus")
	cfg := h.cfg.Current()
	v := Voicemail{
		RecordingSID: safeID(c.FormValue("RecordingSid")),
		RecordingURL: c.FormValue("RecordingUrl"),
		CallSID:      safeID(cmp.Or(c.QueryParam("call_sid"), c.FormValue("CallSid"))),
		CallerNum:    c.QueryParam("caller_num"),
		CallerName:   c.QueryParam("caller_name"),
		City:         c.QueryParam("caller_city"),
		State:        c.QueryParam("caller_state"),
		Received:     h.now().UTC(),
	}
	v.address(cfg)
	v.Duration, _ = strconv.Atoi(c.FormValue("RecordingDuration"))
	var job jobs.Job
	switch status {
	case "completed":
		if v.RecordingSID == "" || v.RecordingURL == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "completed recording callback without RecordingSid or RecordingUrl")
		}
		// No store call before the job is created and nothing after it:
		// the alert, its reply code and its escalation are the job's first
		// step (retried like any other), so a store on S3 answers Twilio
		// after three requests. A repeat of the callback finds the job
		// (active or done) and does nothing, so it never re-raises an
		// alert that was closed meanwhile.
		job = h.voicemailJob(&v)
	case "absent":
		if v.CallSID == "" && v.RecordingSID == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "absent recording callback without CallSid")
		}
		job = jobs.Job{ID: "missed-" + cmp.Or(v.CallSID, v.RecordingSID), Kind: KindMissed, Steps: []jobs.Step{{Name: StepText}}}
	default:
		h.log.WarnContext(ctx, "pagerline: recording callback ignored", "status", status, "recording_sid", v.RecordingSID)
		return c.NoContent(http.StatusNoContent)
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	job.Payload = payload
	job.CreatedAt = v.Received
	created, err := h.q.Enqueue(ctx, job)
	if err != nil {
		// Twilio will not call again; keep trying in the background so a
		// short store outage does not drop the voicemail (the recording
		// itself stays on Twilio until it is stored).
		h.log.ErrorContext(ctx, "pagerline: voicemail job not yet durable; retrying in the background",
			"job", job.ID, "err", err)
		go h.enqueueLater(h.lifetime(), job)
		return c.NoContent(http.StatusNoContent)
	}
	if !created {
		h.log.InfoContext(ctx, "pagerline: duplicate recording callback ignored", "job", job.ID)
	} else {
		h.log.InfoContext(ctx, "pagerline: voicemail accepted", "job", job.ID, "duration", v.Duration, "caller", v.CallerNum)
	}
	return c.NoContent(http.StatusNoContent)
}

// voicemailJob is v's job; it sets v.Key. With alerts on, the alert step
// comes first and the pages wait for it, so they can name the reply code.
func (h *Handler) voicemailJob(v *Voicemail) jobs.Job {
	v.Key = fmt.Sprintf("recordings/%s_%s.mp3", v.Received.Format("2006-01-02_150405"), cmp.Or(v.CallSID, v.RecordingSID))
	job := jobs.Job{ID: "vm-" + v.RecordingSID, Kind: KindVoicemail}
	var pageAfter []string
	if h.alerts != nil {
		job.Steps = append(job.Steps, jobs.Step{Name: StepAlert})
		pageAfter = []string{StepAlert}
	}
	job.Steps = append(job.Steps,
		jobs.Step{Name: StepStore}, jobs.Step{Name: StepEmail},
		jobs.Step{Name: StepText, After: pageAfter}, jobs.Step{Name: StepCall, After: pageAfter})
	if v.DeleteAfter {
		job.Steps = append(job.Steps, jobs.Step{Name: StepDelete, After: []string{StepStore}})
	}
	return job
}

// lifetime is the context background work of this process ends with.
func (h *Handler) lifetime() context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.life
}

func (h *Handler) enqueueLater(life context.Context, job jobs.Job) {
	// The webhook's own try was the first: pause as after it, then go on
	// doubling the pause up to about a minute.
	tries := 0
	err := retry.Sleep(life, time.Second)
	if err == nil {
		err = retry.Policy{First: 2 * time.Second, Max: 64 * time.Second, Attempts: 1000}.Do(life, func(attempt int) (bool, error) {
			tries = attempt
			ctx, cancel := context.WithTimeout(context.WithoutCancel(life), 30*time.Second)
			defer cancel()
			_, err := h.q.Enqueue(ctx, job)
			return err != nil, err
		})
	}
	switch {
	case err == nil:
		h.log.InfoContext(life, "pagerline: voicemail job durable after retry", "job", job.ID, "attempts", tries)
	case life.Err() != nil:
		h.log.ErrorContext(life, "pagerline: voicemail job not stored before shutdown; the reconciliation sweep recovers it from Twilio", "job", job.ID)
	default:
		h.log.ErrorContext(life, "pagerline: voicemail job could not be stored; the recording is still on Twilio", "job", job.ID)
	}
}

func (h *Handler) register() {
	h.q.HandleFirst(KindVoicemail, StepStore, h.stepStore)
	h.q.Handle(KindVoicemail, StepEmail, h.stepEmail)
	h.q.Handle(KindVoicemail, StepText, h.stepText)
	h.q.Handle(KindVoicemail, StepCall, h.stepCall)
	h.q.Handle(KindVoicemail, StepDelete, h.stepDelete)
	h.q.Handle(KindVoicemail, StepAlert, h.stepAlert)
	h.q.Handle(KindMissed, StepText, h.stepMissedText)
	h.q.Handle(KindCallerDigest, StepText, h.stepCallerDigest)
}

func (h *Handler) stepStore(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var v Voicemail
	if err := job.Decode(&v); err != nil {
		return nil, jobs.Permanent(err)
	}
	data, _, err := h.rec.FetchRecording(ctx, v.RecordingURL)
	if twilio.IsPermanent(err) {
		// A URL we must not or cannot fetch (untrusted host, dry run,
		// too large) will not change on a retry; the reconciliation sweep
		// still finds the recording on Twilio.
		h.log.Error("pagerline: recording cannot be fetched; not retried", "job", job.ID, "err", err)
		return nil, jobs.Permanent(fmt.Errorf("fetch recording: %w", err))
	}
	if err != nil {
		return nil, fmt.Errorf("fetch recording: %w", err)
	}
	if _, err := h.st.Put(ctx, v.Key, data, store.Cond{}); err != nil {
		return nil, fmt.Errorf("store recording: %w", err)
	}
	meta, _ := json.MarshalIndent(Metadata{CallerNum: v.CallerNum, CallerName: v.CallerName, City: v.City, State: v.State,
		Duration: v.Duration, CallSID: v.CallSID, RecordingSID: v.RecordingSID, Received: v.Received, Bytes: len(data)}, "", "  ")
	if _, err := h.st.Put(ctx, strings.TrimSuffix(v.Key, ".mp3")+".json", meta, store.Cond{}); err != nil {
		return nil, fmt.Errorf("store metadata: %w", err)
	}
	h.audit.Try(ctx, audit.Entry{Actor: "pagerline", Action: audit.ActionVoicemail, Source: v.CallerNum,
		After: map[string]any{"key": v.Key, "duration": v.Duration, "recording_sid": v.RecordingSID}})
	return map[string]any{"key": v.Key, "bytes": len(data)}, nil
}

// audio returns a voicemail's bytes: the stored copy when the store step is
// done, else straight from Twilio.
func (h *Handler) audio(ctx context.Context, jobID string) ([]byte, error) {
	job, err := h.q.Get(ctx, jobID)
	if err != nil {
		return nil, err
	}
	var v Voicemail
	if err := job.Decode(&v); err != nil {
		return nil, err
	}
	if s := job.Step(StepStore); s != nil && s.State == jobs.StepDone {
		if obj, err := h.st.Get(ctx, v.Key); err == nil {
			return obj.Data, nil
		}
	}
	data, _, err := h.rec.FetchRecording(ctx, v.RecordingURL)
	return data, err
}

func (h *Handler) stepEmail(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var v Voicemail
	if err := job.Decode(&v); err != nil {
		return nil, jobs.Permanent(err)
	}
	ms := h.cfg.Current().CurrentConfig.MailSettings
	data, err := h.audio(ctx, job.ID)
	if err != nil {
		return nil, fmt.Errorf("recording for email: %w", err)
	}
	body := fmt.Sprintf("On-call voicemail (%s) received from %s", outbound.DurationWords(v.Duration), v.caller())
	if p := v.place(); p != "" {
		body += " in " + p
	}
	body += fmt.Sprintf(".\n\nReceived: %s\nCall SID: %s\nRecording SID: %s\nStored as: %s\nPaged: %s (%s)\n\nThe recording is attached as voicemail.mp3.\n",
		v.Received.Format(time.RFC1123), v.CallSID, v.RecordingSID, v.Key, v.OnCallName, v.OnCallPhone)
	r, err := h.out.Email(ctx, ms, []string{ms.ToEmail}, channel.Message{
		NotificationID: job.ID,
		Subject:        "[OnCall] New on-call voicemail from " + v.caller(),
		Body:           body,
		Attachments:    []channel.Attachment{{Name: "voicemail.mp3", ContentType: "audio/mpeg", Data: data}},
	})
	if err != nil {
		return nil, err
	}
	return map[string]string{"receipt": r.ID, "to": ms.ToEmail}, nil
}

// linkStep is how far a page link's expiry moves on as its job ages.
const linkStep = time.Hour

// pageLinkExpiry is when the media link a page step sends expires; sends is
// how many sends the step made before (Delivery.Tries).
//
// The text's body holds the link, and a send whose answer was lost (a
// timeout after Twilio took it, a crash) is found on Twilio by its exact
// body (outbound.SendTextStep). So every attempt of one sending, its
// retries and a takeover, must build the same link: the expiry counts from
// the job's creation, not from now. It moves on in whole linkSteps as the
// job ages, so a page that goes out late still leaves the engineer nearly
// MediaTTL to listen; only a lost answer at such a step's edge can then be
// missed.
//
// Each sending of the step (the first, and each reopening after a failed
// delivery) gets a link a second apart, so the check of a later sending
// never takes an earlier one's send, failed or not reached, for its own.
func pageLinkExpiry(created, now time.Time, sends int) time.Time {
	age := max(now.Sub(created), 0).Truncate(linkStep)
	return created.Add(age + MediaTTL + time.Duration(sends)*time.Second)
}

// page is what both page steps start from: the voicemail, the step's
// previous delivery (for retries by the other path) and the media link.
func (h *Handler) page(ctx context.Context, job *jobs.Job, step *jobs.Step) (v Voicemail, prev Delivery, link string, err error) {
	if err = job.Decode(&v); err != nil {
		return v, prev, "", jobs.Permanent(err)
	}
	if v.OnCallPhone == "" {
		return v, prev, "", jobs.Permanent(errors.New("nobody is on call"))
	}
	_ = json.Unmarshal(step.Result, &prev)
	exp := pageLinkExpiry(job.CreatedAt, h.now(), prev.Tries)
	link, err = h.signer.URLAt(ctx, h.base, job.ID+".mp3", exp)
	if err != nil {
		return v, prev, "", fmt.Errorf("media link: %w", err)
	}
	return v, prev, link, nil
}

func (h *Handler) stepText(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
	v, prev, link, err := h.page(ctx, job, step)
	if err != nil {
		return nil, err
	}
	if held, err := h.heldBack(ctx, job, v); held || err != nil {
		return heldDelivery, err
	}
	body := fmt.Sprintf("On-call voicemail (%s) from %s", outbound.DurationWords(v.Duration), v.caller())
	if p := v.place(); p != "" {
		body += ", " + p
	}
	body += ". Listen: " + link
	if va := alertOf(job, v); va.Code != "" {
		body = page.Text(va.Code, body)
	}
	t := outbound.Text{From: v.FromPhone, To: v.OnCallPhone, Body: body,
		StatusCallback: h.base + "/public/mmsstatuscb?job=" + url.QueryEscape(job.ID)}
	mms := outbound.CanMMS(v.FromPhone, v.OnCallPhone) && !prev.SMSOnly
	if mms {
		t.MediaURL = []string{link}
	}
	sent, err := h.out.SendTextStep(ctx, h.q, job, step, t)
	if err != nil && mms && jobs.IsPermanent(err) {
		// MMS refused outright (e.g. the handset cannot take it): the link
		// still gets through by plain SMS.
		t.MediaURL, mms = nil, false
		sent, err = h.out.SendTextStep(ctx, h.q, job, step, t)
	}
	if errors.Is(err, outbound.ErrDeferred) {
		return nil, err // waiting for its rate slot, not failed
	}
	if err != nil {
		h.audit.Try(ctx, audit.Entry{Actor: "pagerline", Action: audit.ActionPage, Source: v.OnCallPhone, Detail: "text failed: " + err.Error()})
		return nil, err
	}
	h.audit.Try(ctx, audit.Entry{Actor: "pagerline", Action: audit.ActionPage, Source: v.OnCallPhone, Detail: "text sent " + sent.SID})
	return Delivery{SID: sent.SID, Status: sent.Status, MMS: mms, Fallbacks: prev.Fallbacks, Tries: prev.Tries + 1}, nil
}

func (h *Handler) stepCall(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
	v, prev, link, err := h.page(ctx, job, step)
	if err != nil {
		return nil, err
	}
	if held, err := h.heldBack(ctx, job, v); held || err != nil {
		return heldDelivery, err
	}
	who := v.CallerName
	if v.CallerNum != "" {
		who = strings.TrimSpace(who + ", number " + outbound.PhoneWords(v.CallerNum))
	}
	if who == "" {
		who = "an unknown caller"
	}
	intro := fmt.Sprintf("This is the on-call pager. New voicemail from %s, %s long.", who, outbound.DurationWords(v.Duration))
	doc := twiml.Voice(
		twiml.Pause{Seconds: 1},
		twiml.Say{Text: intro},
		twiml.Play{URL: link},
		twiml.Say{Text: "Again: " + intro + " The message was also sent to you by text and email. Goodbye."},
	)
	if va := alertOf(job, v); va.AlertID != "" {
		// The keys of an alert call, answered by the same handler.
		doc = twiml.Voice(
			twiml.Pause{Seconds: 1},
			twiml.Say{Text: intro},
			twiml.Play{URL: link},
			twiml.Gather{Action: page.PageKeyURL(h.base, va.AlertID, v.OnCallID), NumDigits: 1, Timeout: 10,
				Prompt: []twiml.Verb{twiml.Say{Text: "Again: " + intro + " " + page.PageKeysPrompt}}},
			twiml.Say{Text: "No key pressed. The voicemail stays open as an alert. It was also sent to you by text and email. Goodbye."},
		)
	}
	sent, err := h.out.StartCallStep(ctx, h.q, job, step, outbound.Call{From: v.FromPhone, To: v.OnCallPhone, Twiml: doc,
		StatusCallback: h.base + "/public/callstatus?job=" + url.QueryEscape(job.ID), MachineDetection: true})
	if errors.Is(err, outbound.ErrDeferred) {
		return nil, err // waiting for its rate slot, not failed
	}
	if err != nil {
		h.audit.Try(ctx, audit.Entry{Actor: "pagerline", Action: audit.ActionPage, Source: v.OnCallPhone, Detail: "call failed: " + err.Error()})
		return nil, err
	}
	h.audit.Try(ctx, audit.Entry{Actor: "pagerline", Action: audit.ActionPage, Source: v.OnCallPhone, Detail: "call placed " + sent.SID})
	return Delivery{SID: sent.SID, Status: sent.Status, Fallbacks: prev.Fallbacks, Tries: prev.Tries + 1}, nil
}

func (h *Handler) stepDelete(ctx context.Context, job *jobs.Job, _ *jobs.Step) (any, error) {
	var v Voicemail
	if err := job.Decode(&v); err != nil {
		return nil, jobs.Permanent(err)
	}
	// Only after the store step: the job runs this step after it, and the
	// stored copy is checked once more before the only other copy goes.
	if _, err := h.st.Get(ctx, v.Key); err != nil {
		return nil, fmt.Errorf("stored copy not readable, not deleting from Twilio: %w", err)
	}
	if err := h.rec.DeleteRecording(ctx, v.RecordingSID); err != nil {
		return nil, err
	}
	return map[string]string{"deleted": v.RecordingSID}, nil
}

func (h *Handler) stepMissedText(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
	var v Voicemail
	if err := job.Decode(&v); err != nil {
		return nil, jobs.Permanent(err)
	}
	if v.OnCallPhone == "" {
		return nil, jobs.Permanent(errors.New("nobody is on call"))
	}
	if held, err := h.heldBack(ctx, job, v); held || err != nil {
		return heldDelivery, err
	}
	body := fmt.Sprintf("Missed call on the pager line from %s at %s UTC; no message was left.", v.caller(), v.Received.Format("15:04"))
	sent, err := h.out.SendTextStep(ctx, h.q, job, step, outbound.Text{From: v.FromPhone, To: v.OnCallPhone, Body: body})
	if err != nil {
		return nil, err
	}
	h.audit.Try(ctx, audit.Entry{Actor: "pagerline", Action: audit.ActionPage, Source: v.OnCallPhone, Detail: "missed-call text sent " + sent.SID})
	return Delivery{SID: sent.SID, Status: sent.Status}, nil
}
