package e2e

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/store"
)

// sweepHourly leaves the start-up sweep as the only automatic one, so a
// test's explicit sweep is the next.
func sweepHourly(s *app.Settings) { s.ReconcileInterval = time.Hour }

func sweep(t *testing.T, h *harness.Harness) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := h.App().ReconcileVoicemails(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return n
}

func TestVoicemailLostInACrashDuringAStoreOutageIsRecovered(t *testing.T) {
	h := harness.New(t, harness.Options{Settings: sweepHourly})
	audio := fakeMP3()
	call := h.Call("+12125550123").Expect("Press 1")
	call.Press("1").Expect("after the tone")

	// The callback arrives while S3 is down: it is answered, and the job
	// lives only in the process's memory...
	h.S3.Fault.Down()
	rec := call.Record(audio, 12)
	// ...which dies.
	h.Stop()
	h.S3.Fault.Up()
	if _, err := h.Store.Get(context.Background(), "jobs/active/vm-"+rec.SID+".json"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("job stored before the restart (err %v): the outage did not lose it", err)
	}

	h.Restart() // the start-up sweep finds the recording on Twilio
	job := h.WaitJob("vm-" + rec.SID)
	if job.Failed() {
		t.Fatalf("recovered voicemail job failed: %+v", job.Steps)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.SMTP.WaitMessages(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := sweep(t, h); n != 0 {
		t.Errorf("a second sweep recovered %d voicemails, want 0", n)
	}

	if sms, _ := expectVoicemailPage(h, harness.Alice); len(sms.MediaURL) != 1 || !strings.Contains(sms.Body, "+12125550123") {
		t.Errorf("page %q media %v: want the MMS naming the caller", sms.Body, sms.MediaURL)
	}
	if mails := len(h.SMTP.Messages()); mails != 1 {
		t.Errorf("delivered %d mails; want one", mails)
	}
	infos, err := h.Store.List(context.Background(), "recordings/")
	if err != nil {
		t.Fatal(err)
	}
	var mp3s int
	for _, in := range infos {
		if strings.HasSuffix(in.Key, "_"+call.CallSID()+".mp3") {
			mp3s++
			obj, err := h.Store.Get(context.Background(), in.Key)
			if err != nil || !bytes.Equal(obj.Data, audio) {
				t.Errorf("stored %s differs from the recording (err %v)", in.Key, err)
			}
		}
	}
	if mp3s != 1 {
		t.Errorf("recordings/ = %v; want the call's mp3 once", infos)
	}
}

func TestSweepIgnoresRecordingsOfOtherNumbers(t *testing.T) {
	h := harness.New(t, harness.Options{Settings: sweepHourly})
	other := h.Twilio.AddInboundCall("", harness.Stranger, "+15555550777")
	otherRec, _ := h.Twilio.AddRecordingFor(other, fakeMP3(), 5)
	// A pager-line recording whose callback never came, so the sweep is
	// seen doing its work in the same pass.
	mine := h.Twilio.AddInboundCall("", "+12125550123", harness.PagerPhone)
	mineRec, _ := h.Twilio.AddRecordingFor(mine, fakeMP3(), 7)

	n := sweep(t, h)
	if n > 1 {
		t.Errorf("sweep recovered %d voicemails, want at most the pager line's one", n)
	}
	h.WaitJob("vm-" + mineRec)
	if _, err := h.Store.Get(context.Background(), "jobs/active/vm-"+otherRec+".json"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another number's recording became an active job (err %v)", err)
	}
	if _, err := h.Store.Get(context.Background(), "jobs/done/vm-"+otherRec+".json"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another number's recording became a job (err %v)", err)
	}
	// Only the pager line's voicemail reaches the on-call.
	expectVoicemailPage(h, harness.Alice)
}

func TestSweepDoesNotRedeliverAFinishedVoicemail(t *testing.T) {
	h := harness.New(t, harness.Options{Settings: sweepHourly})
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	h.WaitJob("vm-" + rec.SID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.SMTP.WaitMessages(ctx, 1); err != nil {
		t.Fatal(err)
	}

	if n := sweep(t, h); n != 0 {
		t.Errorf("sweep recovered %d voicemails after the job finished, want 0", n)
	}
	h.Restart() // and the start-up sweep of the next process
	if n := sweep(t, h); n != 0 {
		t.Errorf("sweep after a restart recovered %d voicemails, want 0", n)
	}
	if _, err := h.Store.Get(context.Background(), "jobs/active/vm-"+rec.SID+".json"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the finished voicemail is active again (err %v)", err)
	}
	expectVoicemailPage(h, harness.Alice)
	if mails := len(h.SMTP.Messages()); mails != 1 {
		t.Errorf("delivered %d mails; want one", mails)
	}
}
