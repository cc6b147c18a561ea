package pagerline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/internal/testlog"
)

// A voicemail text whose answer was lost (Twilio took it, the answer timed
// out) is found on Twilio when the step runs again a second later, not sent
// twice: every attempt builds the same text, media link included.
func TestVoicemailTextLostAnswerNotSentTwice(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.tw.loseNext()
	id := r.voicemail(t, "RE1", "+12125550123")
	j := r.drain(t, id)
	msgs := r.tw.sentMessages()
	if len(msgs) != 1 {
		t.Fatalf("%d voicemail texts sent; want 1:%s", len(msgs), steps(j))
	}
	if s := j.Step(StepText); s.Attempts != 2 {
		t.Fatalf("text step: %d attempts; want the lost one and the one that found it", s.Attempts)
	}
	if d := delivery(t, j, StepText); d.SID != msgs[0].SID || !d.MMS || d.Tries != 1 {
		t.Fatalf("text step recorded %+v; want the text Twilio took, %s", d, msgs[0].SID)
	}
	if !strings.Contains(msgs[0].Message.Body, "/media/"+id+".mp3?exp=") {
		t.Fatalf("text %q carries no media link", msgs[0].Message.Body)
	}
}

// After an undelivered MMS the text is sent again as plain SMS with a link
// of its own: when that SMS's first try fails before Twilio takes it, the
// retry's check for an earlier send does not take the undelivered MMS for
// it, and the SMS goes out.
func TestVoicemailSMSRetryAfterUndeliveredMMSIsSent(t *testing.T) {
	r := newRig(t, rigOptions{})
	id := r.voicemail(t, "RE1", "+12125550123")
	r.drain(t, id)
	mms := r.tw.sentMessages()
	if len(mms) != 1 || len(mms[0].Message.MediaURL) != 1 {
		t.Fatalf("first page: %+v; want one MMS", mms)
	}
	r.clock.Advance(10 * time.Second)
	r.textStatus(t, id, mms[0].SID, "undelivered")
	r.tw.failNext(503)
	j := r.drain(t, id)
	msgs := r.tw.sentMessages()
	if len(msgs) != 2 {
		t.Fatalf("%d texts; want the MMS and its SMS retry:%s", len(msgs), steps(j))
	}
	sms := msgs[1]
	if len(sms.Message.MediaURL) != 0 || !strings.Contains(sms.Message.Body, "/media/"+id+".mp3?exp=") {
		t.Fatalf("retry %+v; want a plain SMS with the link", sms.Message)
	}
	if d := delivery(t, j, StepText); d.SID != sms.SID || d.MMS || d.Tries != 2 {
		t.Fatalf("text step recorded %+v; want the SMS %s", d, sms.SID)
	}
}

// A carrier can refuse the MMS so fast that Twilio's "undelivered" callback
// comes before the step has recorded the send: the callback waits for the
// record instead of being dropped, and the page goes out again as SMS.
func TestUndeliveredBeforeTheSendIsRecordedStillRetriesAsSMS(t *testing.T) {
	r := newRig(t, rigOptions{})
	var logs testlog.Buffer
	r.h.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	id := r.voicemail(t, "RE1", "+12125550123")
	release := make(chan struct{})
	answered := make(chan error, 1)
	var once sync.Once
	r.tw.taken = func(sid string) {
		once.Do(func() {
			go func() { answered <- r.postTextStatus(id, sid, "undelivered") }()
			// Twilio's answer to the create leaves only once the callback
			// has found the step without it.
			<-release
		})
	}
	ran := make(chan error, 1)
	go func() { ran <- r.q.RunOnce(context.Background()) }()
	for !strings.Contains(logs.String(), "before its send was recorded") {
		select {
		case err := <-answered:
			t.Fatalf("the callback was answered (%v) before the send was recorded; want it to wait for the record", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(release)
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	j := r.drain(t, id)
	msgs := r.tw.sentMessages()
	if len(msgs) != 2 || len(msgs[0].Message.MediaURL) != 1 || len(msgs[1].Message.MediaURL) != 0 {
		t.Fatalf("%d texts; want the MMS and then its plain SMS retry:%s", len(msgs), steps(j))
	}
}

// A page's link is the same for every attempt of one sending, lasts about
// MediaTTL from when it is sent however late that is, and differs between
// sendings.
func TestPageLinkExpiry(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	first := pageLinkExpiry(created, created, 0)
	if want := created.Add(MediaTTL); !first.Equal(want) {
		t.Fatalf("first link expires %v; want %v", first, want)
	}
	if got := pageLinkExpiry(created, created.Add(5*time.Minute+time.Second), 0); !got.Equal(first) {
		t.Errorf("a retry 5 minutes later expires %v; want the first attempt's %v", got, first)
	}
	if got := pageLinkExpiry(created, created.Add(-time.Minute), 0); !got.Equal(first) {
		t.Errorf("with the clock behind the job's creation: %v; want %v", got, first)
	}
	if got := pageLinkExpiry(created, created, 1); got.Equal(first) {
		t.Errorf("a second sending gets the first one's link (%v)", got)
	}
	for _, late := range []time.Duration{23 * time.Hour, 30*time.Hour + 59*time.Minute, 100 * time.Hour} {
		now := created.Add(late)
		if left := pageLinkExpiry(created, now, 0).Sub(now); left <= MediaTTL-linkStep || left > MediaTTL {
			t.Errorf("sent %v after the voicemail: the link lasts %v; want about %v", late, left, MediaTTL)
		}
	}
}

// alertCode is the reply code the fake alert service gives.
const alertCode = "7"

// textsAndCalls expects the voicemail's one text and one call, the text
// naming the reply code when code is set and none otherwise.
func (r *rig) textsAndCalls(t testing.TB, j jobs.Job, code string) {
	t.Helper()
	msgs, calls := r.tw.sentMessages(), r.tw.sentCalls()
	if len(msgs) != 1 || len(calls) != 1 {
		t.Fatalf("%d texts and %d calls; want one each:%s", len(msgs), len(calls), steps(j))
	}
	body := msgs[0].Message.Body
	if named := strings.Contains(body, "reply "+alertCode+"a to acknowledge"); named != (code != "") ||
		!strings.Contains(body, "On-call voicemail (12 seconds) from +12125550123") {
		t.Fatalf("text %q; want the voicemail, with reply code %q", body, code)
	}
}

// A voicemail whose alert cannot be raised for good (its stored object is
// corrupt) is texted and called at once, without a reply code: the pages do
// not wait on an alert that will never come.
func TestVoicemailPagedWhenAlertCorrupt(t *testing.T) {
	fa := &fakeAlerts{trigger: func(int) (alerts.Alert, error) {
		return alerts.Alert{}, fmt.Errorf("%w: alerts/open/x.json: unexpected end of JSON input", alerts.ErrCorrupt)
	}}
	r := newRig(t, rigOptions{alerts: fa})
	j := r.drain(t, r.voicemail(t, "RE1", "+12125550123"))
	if n := fa.triggers(); n != 1 {
		t.Errorf("alert tried %d times; a corrupt object does not mend itself", n)
	}
	var va VoicemailAlert
	if s := j.Step(StepAlert); s.State != jobs.StepDone || s.Decode(&va) != nil || va != (VoicemailAlert{}) {
		t.Fatalf("alert step: %s, %+v; want done without an alert:%s", s.State, va, steps(j))
	}
	r.textsAndCalls(t, j, "")
}

// An alert that keeps failing holds the pages back only for its few tries:
// then the voicemail is texted and called without a reply code.
func TestVoicemailPagedWhenAlertKeepsFailing(t *testing.T) {
	fa := &fakeAlerts{trigger: func(int) (alerts.Alert, error) {
		return alerts.Alert{}, errors.New("alerts: escalation policy lookup: connection reset")
	}}
	r := newRig(t, rigOptions{alerts: fa})
	j := r.drain(t, r.voicemail(t, "RE1", "+12125550123"))
	if n := fa.triggers(); n != maxAlertAttempts {
		t.Errorf("alert tried %d times; want %d", n, maxAlertAttempts)
	}
	if s := j.Step(StepAlert); s.State != jobs.StepDone || s.Attempts != maxAlertAttempts {
		t.Fatalf("alert step: %s after %d attempts:%s", s.State, s.Attempts, steps(j))
	}
	r.textsAndCalls(t, j, "")
}

// An alert that fails once is tried again, and the pages wait for it to
// name its reply code.
func TestVoicemailAlertRetriedBeforePaging(t *testing.T) {
	fa := &fakeAlerts{trigger: func(n int) (alerts.Alert, error) {
		if n == 1 {
			return alerts.Alert{}, errors.New("alerts: escalation policy lookup: connection reset")
		}
		return alerts.Alert{ID: "A1", Code: alertCode}, nil
	}}
	r := newRig(t, rigOptions{alerts: fa})
	j := r.drain(t, r.voicemail(t, "RE1", "+12125550123"))
	if n := fa.triggers(); n != 2 {
		t.Errorf("alert tried %d times; want 2", n)
	}
	r.textsAndCalls(t, j, alertCode)
	if !strings.Contains(r.tw.sentCalls()[0].Call.Twiml, "Gather") {
		t.Errorf("call offers no page keys: %s", r.tw.sentCalls()[0].Call.Twiml)
	}
}
