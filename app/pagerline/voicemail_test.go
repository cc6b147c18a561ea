package pagerline

import (
	"strings"
	"testing"
	"time"
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
