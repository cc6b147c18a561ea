package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/pagerline"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/smtptest"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
)

// fakeMP3 is audio-like bytes with every byte value, so any re-encoding
// or text handling on the way would show.
func fakeMP3() []byte {
	b := []byte("ID3\x04\x00\x00\x00\x00\x00\x00")
	for i := 0; i < 64*1024; i++ {
		b = append(b, byte(i*7+i/256))
	}
	return b
}

// expectVoicemailPage expects the page a voicemail sends the on-call at
// phone: a text and a call, once each.
func expectVoicemailPage(h *harness.Harness, phone string) (*harness.SMS, *harness.PageCall) {
	p := h.Phone(phone)
	sms, call := p.ExpectSMS("voicemail"), p.ExpectCall("New voicemail")
	p.ExpectNoSMS()
	p.ExpectNoCall()
	return sms, call
}

func leaveVoicemail(t *testing.T, h *harness.Harness, from string, audio []byte, seconds int) (*harness.Call, harness.Recording) {
	t.Helper()
	call := h.Call(from).Expect("Press 1")
	call.Press("1").Expect("after the tone")
	rec := call.Record(audio, seconds)
	call.Expect("12-second").ExpectHangup()
	return call, rec
}

func TestVoicemailReachesOnCallAndIsKept(t *testing.T) {
	h := harness.New(t, harness.Options{})
	audio := fakeMP3()
	call := h.Call("+12125550123").SetParam("CallerName", "ACME CORP").SetParam("FromCity", "NEW YORK").SetParam("FromState", "NY")
	call.Expect("Press 1").Press("1").Expect("after the tone")
	rec := call.Record(audio, 12)
	call.Expect("12-second").ExpectHangup()
	job := h.WaitJob("vm-" + rec.SID)
	if job.Failed() {
		t.Fatalf("voicemail job failed: %+v", job.Steps)
	}

	// 1. Kept: the exact bytes and the metadata, in S3.
	ctx := context.Background()
	infos, err := h.Store.List(ctx, "recordings/")
	if err != nil || len(infos) != 2 {
		t.Fatalf("recordings/ = %v, %v; want an mp3 and its json", infos, err)
	}
	mp3, _ := h.Store.Get(ctx, infos[1].Key)
	if !strings.HasSuffix(mp3.Key, "_"+call.CallSID()+".mp3") || !bytes.Equal(mp3.Data, audio) {
		t.Fatalf("stored %s: %d bytes, equal=%v", mp3.Key, len(mp3.Data), bytes.Equal(mp3.Data, audio))
	}
	metaObj, _ := h.Store.Get(ctx, infos[0].Key)
	var meta pagerline.Metadata
	if err := json.Unmarshal(metaObj.Data, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.CallerNum != "+12125550123" || meta.CallerName != "ACME CORP" || meta.City != "NEW YORK" || meta.State != "NY" ||
		meta.Duration != 12 || meta.CallSID != call.CallSID() || meta.RecordingSID != rec.SID {
		t.Errorf("metadata = %+v", meta)
	}

	// 2. Emailed with the mp3 attached.
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	mails, err := h.SMTP.WaitMessages(ectx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := mails[0]
	if m.From != "oncall@example.com" || len(m.To) != 1 || m.To[0] != "sre@example.com" {
		t.Errorf("envelope %s -> %v", m.From, m.To)
	}
	if !strings.Contains(m.Parsed.Subject, "voicemail") || !strings.Contains(m.Parsed.Text, "ACME CORP <+12125550123>") || !strings.Contains(m.Parsed.Text, "12 seconds") {
		t.Errorf("mail subject %q body %q", m.Parsed.Subject, m.Parsed.Text)
	}
	if len(m.Parsed.Attachments) != 1 || m.Parsed.Attachments[0].Name != "voicemail.mp3" || !bytes.Equal(m.Parsed.Attachments[0].Data, audio) {
		t.Errorf("attachment missing or altered")
	}

	// 3. Paged: an MMS with a short-lived signed link, and a call that plays it.
	sms := h.Phone(harness.Alice).ExpectSMS("voicemail (12 seconds) from ACME CORP <+12125550123>")
	if sms.From != harness.Control || len(sms.MediaURL) != 1 || !strings.Contains(sms.Body, sms.MediaURL[0]) {
		t.Fatalf("page SMS = %+v", sms.Message)
	}
	status, got := h.Fetch(sms.MediaURL[0])
	if status != http.StatusOK || !bytes.Equal(got, audio) {
		t.Fatalf("media link: HTTP %d, %d bytes", status, len(got))
	}
	if status, _ := h.Fetch(strings.Replace(sms.MediaURL[0], "sig=", "sig=0", 1)); status != http.StatusForbidden {
		t.Errorf("tampered media link: HTTP %d, want 403", status)
	}
	page := h.Phone(harness.Alice).ExpectCall("<Play>" + strings.ReplaceAll(sms.MediaURL[0], "&", "&amp;") + "</Play>")
	if !strings.Contains(page.Twiml, "ACME CORP") {
		t.Fatalf("page call = %+v", page.Call)
	}
	h.Phone(harness.Alice).ExpectNoCall()
	if v := h.Twilio.Violations(); len(v) != 0 {
		t.Errorf("requests not valid against Twilio's spec: %v", v)
	}
	// The call's status callback lands in the job, signed.
	status, _ = h.Webhook(page.StatusCallback, callStatus(h, page.SID, "completed"))
	if status != http.StatusNoContent {
		t.Errorf("call status callback: HTTP %d", status)
	}
}

func callStatus(h *harness.Harness, sid, status string) map[string][]string {
	return map[string][]string{"AccountSid": {h.Twilio.AccountSID()}, "CallSid": {sid}, "CallStatus": {status}, "ApiVersion": {"2010-04-01"}}
}

func TestAnswerRetriesOnceThenGoodbye(t *testing.T) {
	h := harness.New(t, harness.Options{})
	call := h.Call("+12125550123").Expect("Press 1")
	call.Press("").Expect("did not hear")
	call.Press("").Expect("Goodbye").ExpectHangup()
	h.Call("+12125550123").Press("9").Expect("Goodbye").ExpectHangup()
	// No page for a call with no message.
	h.Phone(harness.Alice).ExpectNoSMS()
	h.Phone(harness.Alice).ExpectNoCall()
}

func TestRecordingCallbackWithoutCallerName(t *testing.T) {
	h := harness.New(t, harness.Options{})
	// VoiceParams carries no CallerName, as Twilio without lookup.
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	h.WaitJob("vm-" + rec.SID)
	if sms, _ := expectVoicemailPage(h, harness.Alice); !strings.Contains(sms.Body, "from +12125550123") {
		t.Fatalf("page %q does not name the caller's number", sms.Body)
	}
}

func TestDuplicateRecordingCallbackActsOnce(t *testing.T) {
	h := harness.New(t, harness.Options{})
	call, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	h.WaitJob("vm-" + rec.SID)
	// Twilio retries the callback after the job is done, and again.
	target := harness.Public + "/public/recordingcb?call_sid=" + call.CallSID() + "&caller_num=%2B12125550123"
	for i := 0; i < 2; i++ {
		call.RecordingCallback(target, h.Twilio.RecordingParams(call.CallSID(), rec.URL, 12))
	}
	expectVoicemailPage(h, harness.Alice)
	if n := len(h.SMTP.Messages()); n != 1 {
		t.Fatalf("after duplicate callbacks: %d emails; want 1", n)
	}
}

func TestVoicemailSurvivesFaults(t *testing.T) {
	h := harness.New(t, harness.Options{})
	audio := fakeMP3()
	h.Twilio.FailNext(".mp3", 500, 0, 1) // media fetch fails once
	h.SMTP.RefuseNext(1)                 // SMTP refuses once
	h.Twilio.FailNext("Calls.json", 503, 0, 1)
	_, rec := leaveVoicemail(t, h, "+12125550123", audio, 12)
	job := h.WaitJob("vm-" + rec.SID)
	for _, s := range job.Steps {
		if s.State != "done" {
			t.Errorf("step %s: %s (%s)", s.Name, s.State, s.LastError)
		}
	}
	expectVoicemailPage(h, harness.Alice)
	if e := len(h.SMTP.Messages()); e != 1 {
		t.Fatalf("emails=%d; want exactly one", e)
	}
}

func TestVoicemailWhileStoreDown(t *testing.T) {
	h := harness.New(t, harness.Options{})
	audio := fakeMP3()
	call := h.Call("+12125550123").Expect("Press 1")
	call.Press("1")
	h.S3.Fault.Down()
	rec := call.Record(audio, 12) // the callback cannot be made durable yet
	time.Sleep(200 * time.Millisecond)
	h.S3.Fault.Up()
	h.WaitJob("vm-" + rec.SID)
	obj, err := h.Store.List(context.Background(), "recordings/")
	if err != nil || len(obj) != 2 {
		t.Fatalf("recordings after outage: %v %v", obj, err)
	}
	expectVoicemailPage(h, harness.Alice)
}

func TestVoicemailResumesAfterRestart(t *testing.T) {
	h := harness.New(t, harness.Options{})
	h.SMTP.Down() // the email step cannot finish before the "crash"
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	h.Phone(harness.Alice).ExpectSMS("voicemail")
	h.Restart()
	h.SMTP.Up()
	job := h.WaitJob("vm-" + rec.SID)
	if job.Failed() {
		t.Fatalf("job failed: %+v", job.Steps)
	}
	// The text went before the crash; the restarted pager does not send it again.
	alice := h.Phone(harness.Alice)
	alice.ExpectCall("New voicemail")
	alice.ExpectNoSMS()
	alice.ExpectNoCall()
	if e := len(h.SMTP.Messages()); e != 1 {
		t.Fatalf("emails=%d; want exactly one", e)
	}
}

func TestMissedCallTexted(t *testing.T) {
	h := harness.New(t, harness.Options{})
	call := h.Call("+12125550123").Press("1")
	rec := call.Verb("Record")
	form := h.Twilio.RecordingParams(call.CallSID(), h.Twilio.AddRecording("", nil), 0)
	form.Set("RecordingStatus", "absent")
	call.RecordingCallback(rec.Attr["recordingStatusCallback"], form)
	h.Phone(harness.Alice).ExpectSMS("Missed call on the pager line from +12125550123")
}

func TestUndeliveredMMSRetriedAsSMS(t *testing.T) {
	h := harness.New(t, harness.Options{})
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	alice := h.Phone(harness.Alice)
	mms := alice.ExpectSMS("voicemail")
	h.WaitJob("vm-" + rec.SID)
	mms.Status("sent")
	if code := mms.Status("undelivered"); code != http.StatusNoContent {
		t.Fatalf("status callback: HTTP %d", code)
	}
	retry := alice.ExpectSMS("voicemail")
	if len(retry.MediaURL) != 0 || !strings.Contains(retry.Body, "/media/") {
		t.Fatalf("retry should be a plain SMS with the link: %+v", retry.Message)
	}
	alice.ExpectCall("New voicemail")
	// A late "sent" for the first message does not move anything backwards.
	mms.Status("sent")
	h.WaitJob("vm-" + rec.SID)
	alice.ExpectNoSMS()
}

func TestOnCallAbroadGetsSMSWithLink(t *testing.T) {
	h := harness.New(t, harness.Options{})
	h.Phone(harness.Carol).Text("TAKE").ThenReply("C").Expect("on call now")
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	h.WaitJob("vm-" + rec.SID)
	h.Phone(harness.Alice).ExpectSMS("Carol Jones has taken the pager")
	sms, _ := expectVoicemailPage(h, harness.Carol)
	if len(sms.MediaURL) != 0 || !strings.Contains(sms.Body, "Listen: "+harness.Public+"/media/") {
		t.Fatalf("MMS sent to a non-North-American number, or no link: %+v", sms.Message)
	}
}

func TestEmailOverSTARTTLSWithAuth(t *testing.T) {
	cfg := harness.DefaultConfig(teamtest.Merge(`{"current_config": {"mail_settings": {"mail_use_tls": true, "mail_username": "pager", "mail_password": "s3cret"}}}`))
	h := harness.New(t, harness.Options{Config: cfg, SMTP: smtptest.Options{TLS: true, Username: "pager", Password: "s3cret"}})
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	h.WaitJob("vm-" + rec.SID)
	mails := h.SMTP.Messages()
	if len(mails) != 1 || !mails[0].TLS || mails[0].AuthUser != "pager" {
		t.Fatalf("mail over TLS with auth: %+v", mails)
	}
	expectVoicemailPage(h, harness.Alice)
}

func TestDeleteRecordingAfterStore(t *testing.T) {
	cfg := harness.DefaultConfig(teamtest.Set("current_config.delete_recording_after_store", true))
	h := harness.New(t, harness.Options{Config: cfg})
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	h.WaitJob("vm-" + rec.SID)
	if h.Twilio.HasRecording(rec.SID) {
		t.Fatal("recording still on Twilio though the config asks to delete it after storing")
	}
	var kept bool
	infos, _ := h.Store.List(context.Background(), "recordings/")
	for _, in := range infos {
		kept = kept || strings.HasSuffix(in.Key, ".mp3")
	}
	if !kept {
		t.Fatal("recording deleted from Twilio but not stored")
	}
	expectVoicemailPage(h, harness.Alice)
}

func TestGreetingAndRecordWithoutKeypress(t *testing.T) {
	cfg := harness.DefaultConfig(teamtest.Merge(`{"current_config": {"greeting": "Thanks for calling Example Corp support.", "record_without_keypress": true, "max_record_seconds": 120}}`))
	h := harness.New(t, harness.Options{Config: cfg})
	call := h.Call("+12125550123").Expect("Thanks for calling Example Corp support.").Expect("2 minutes")
	if got := call.Verb("Record").Attr["maxLength"]; got != "120" {
		t.Fatalf("maxLength = %s", got)
	}
	rec := call.Record(fakeMP3(), 12)
	h.WaitJob("vm-" + rec.SID)
	if sms, _ := expectVoicemailPage(h, harness.Alice); !strings.Contains(sms.Body, "voicemail (12 seconds)") {
		t.Fatalf("page %q", sms.Body)
	}
}

// hangUp is a call from caller that ends without a message.
func hangUp(h *harness.Harness, caller string) {
	call := h.Call(caller).Press("1")
	rec := call.Verb("Record")
	form := h.Twilio.RecordingParams(call.CallSID(), h.Twilio.AddRecording("", nil), 0)
	form.Set("RecordingStatus", "absent")
	call.RecordingCallback(rec.Attr["recordingStatusCallback"], form)
}

// Issue 9 item 11: one caller cannot flood the on-call. Past the per-caller
// limit their calls are bundled into one text at the end of the window;
// their voicemails are still kept and emailed.
func TestOneCallerCannotFloodTheOnCall(t *testing.T) {
	clock := testclock.New()
	h := harness.New(t, harness.Options{Now: clock.Now})
	alice := h.Phone(harness.Alice)
	const caller = "+12125550123"
	for range 20 {
		hangUp(h, caller)
	}
	for range pagerline.DefaultCallerLimit {
		alice.ExpectSMS("Missed call on the pager line from " + caller)
	}
	_, rec := leaveVoicemail(t, h, caller, fakeMP3(), 12)
	if job := h.WaitJob("vm-" + rec.SID); job.Failed() {
		t.Fatalf("voicemail job failed: %+v", job.Steps)
	}
	alice.ExpectNoSMS()
	if n := len(h.SMTP.Messages()); n != 1 {
		t.Fatalf("%d emails; want the voicemail's", n)
	}
	if n := len(h.Twilio.Calls()); n != 0 {
		t.Fatalf("%d calls to the on-call past the caller's limit", n)
	}
	infos, _ := h.Store.List(context.Background(), "recordings/")
	if len(infos) != 2 {
		t.Fatalf("recordings/ = %v; want the voicemail kept", infos)
	}

	// Another caller is not held back by the first one's flood.
	hangUp(h, "+13125550199")
	alice.ExpectSMS("Missed call on the pager line from +13125550199")

	clock.Advance(pagerline.DefaultCallerWindow)
	alice.ExpectNoSMS() // a call held at the window's last moment may still be counted
	clock.Advance(pagerline.DigestGrace)
	alice.ExpectSMS("18 more calls from " + caller)
	alice.ExpectNoSMS()
}

// Twilio may deliver a status callback again (a retry after a slow answer,
// under the same or a new idempotency token): the page's other path is
// retried once per failed delivery, not once per callback.
func TestRepeatedNoAnswerCallbackRetriesTextOnce(t *testing.T) {
	h := harness.New(t, harness.Options{})
	_, rec := leaveVoicemail(t, h, "+12125550123", fakeMP3(), 12)
	alice := h.Phone(harness.Alice)
	alice.ExpectSMS("voicemail")
	call := alice.ExpectCall("New voicemail")
	h.WaitJob("vm-" + rec.SID)
	if code := call.Status("no-answer", ""); code != http.StatusNoContent {
		t.Fatalf("status callback: HTTP %d", code)
	}
	alice.ExpectSMS("voicemail") // the text again, as the call reached nobody
	h.WaitJob("vm-" + rec.SID)
	if code := call.Status("no-answer", ""); code != http.StatusNoContent {
		t.Fatalf("repeated status callback: HTTP %d", code)
	}
	h.WaitJob("vm-" + rec.SID)
	alice.ExpectNoSMS()
	alice.ExpectNoCall()
}
