package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store/storetest"
	"github.com/oncall/pager/twiml"
)

func TestNotifyPlansOneStepPerRecipientAndRoute(t *testing.T) {
	r := newRig(t, rigOptions{users: 3, patches: []teamtest.Patch{teamtest.Merge(`{"rates": {"sms_per_second": 2}}`)}})
	n := r.notification(t, "Disk db1 at 97%")
	if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
		t.Fatal(err)
	}
	// One job per recipient, with that recipient's routes as steps.
	js, err := r.q.List(context.Background(), JobsPrefix(n.ID))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	if got, want := strings.Join(ids, " "), JobID(n.ID, 0)+" "+JobID(n.ID, 1)+" "+JobID(n.ID, 2); got != want {
		t.Fatalf("jobs = %s, want %s", got, want)
	}
	j := r.job(t, n.ID)
	var names []string
	for _, s := range j.Steps {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "u000/sms u000/email u001/sms u001/email u002/sms u002/email" {
		t.Fatalf("steps = %s", got)
	}
	// Texts are booked half a second apart (2 segments/s) and due at the
	// start of their one-second window; e-mail is due now.
	t0 := r.clock.Now()
	for i, want := range []time.Duration{0, 0, 0, 0, time.Second, 0} {
		s := j.Steps[i]
		got := time.Duration(0)
		if !s.NextAt.IsZero() {
			got = s.NextAt.Sub(t0)
		}
		if got != want || s.MaxAttempts != MaxDeliveryAttempts {
			t.Errorf("%s: due +%v (max %d), want +%v", s.Name, got, s.MaxAttempts, want)
		}
	}
	// The same notification again is a duplicate, and books nothing more.
	end := smsLimiter(r.out).PlannedEnd("+15555550100")
	if err := r.ntf.Notify(context.Background(), r.q, n); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Notify: %v, want ErrDuplicate", err)
	}
	if got := smsLimiter(r.out).PlannedEnd("+15555550100"); !got.Equal(end) {
		t.Errorf("duplicate moved the plan from %v to %v", end, got)
	}
}

func TestNotifyNobodyReachable(t *testing.T) {
	r := newRig(t, rigOptions{users: 1})
	n := Notification{ID: NewID(), Source: "contact:x", Message: "hi",
		Recipients: []Recipient{{UserID: "x", Skipped: SkipUserDisabled}}}
	if err := r.ntf.Notify(context.Background(), r.q, n); !errors.Is(err, ErrNothingToSend) {
		t.Fatalf("Notify = %v, want ErrNothingToSend", err)
	}
	if err := r.ntf.Notify(context.Background(), r.q, Notification{ID: "nope"}); err == nil {
		t.Fatal("bad id accepted")
	}
}

// The queue drains at the allowed rate and never above it, on a fake
// clock: every text is stamped with the clock when Twilio gets it.
func TestDrainHeldToRate(t *testing.T) {
	const users = 40
	r := newRig(t, rigOptions{users: users, workers: 1, patches: []teamtest.Patch{teamtest.Merge(`{"rates": {"sms_per_second": 4}}`)}})
	// 200 GSM characters: 2 segments per text, so 2 texts per second.
	msg := strings.Repeat("Disk full. ", 18) + "db1 97%"
	if outbound.Segments(msg) != 2 {
		t.Fatalf("test message is %d segments", outbound.Segments(msg))
	}
	n := r.notification(t, msg)
	t0 := r.clock.Now()
	if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
		t.Fatal(err)
	}
	j := r.drain(t, n.ID)
	if j.Failed() {
		t.Fatalf("job failed: %+v", j.Steps)
	}
	texts := r.tw.sentMessages()
	if len(texts) != users || r.mail.count() != users {
		t.Fatalf("%d texts and %d e-mails, want %d each", len(texts), r.mail.count(), users)
	}
	// Never above the rate: any two texts 2 segments apart at 4/s are at
	// least 500ms apart, so no 1-second window holds more than 2.
	for i := 1; i < len(texts); i++ {
		if gap := texts[i].At.Sub(texts[i-1].At); gap < 500*time.Millisecond {
			t.Fatalf("texts %d and %d only %v apart", i-1, i, gap)
		}
	}
	// And at it: the last text goes out when the rate allows, not later.
	if took, want := texts[len(texts)-1].At.Sub(t0), time.Duration(users-1)*500*time.Millisecond; took != want {
		t.Errorf("last text after %v, want %v", took, want)
	}
	// E-mail did not wait behind the texts: all went out in the first
	// window (one worker, so the texts due in it go first or between).
	r.mail.mu.Lock()
	for i, at := range r.mail.sent {
		if at.Sub(t0) >= time.Second {
			t.Errorf("e-mail %d sent at +%v, want within the first second", i, at.Sub(t0))
		}
	}
	r.mail.mu.Unlock()
	for _, s := range j.Steps {
		if s.Attempts != 1 {
			t.Errorf("%s took %d attempts", s.Name, s.Attempts)
		}
	}
}

// After a restart (fresh limiter, texts overdue) the texts do not all
// grab a worker to wait in the limiter: each is rescheduled for its own
// slot, and the e-mail beside them goes out at once.
func TestOverdueTextsRescheduledNotHeld(t *testing.T) {
	const users = 30
	st, clock := storetest.NewMem(), testclock.New()
	before := newRig(t, rigOptions{users: users, st: st, clock: clock})
	n := before.notification(t, "db1 down")
	if err := before.ntf.Notify(context.Background(), before.q, n); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour) // the pager was down; every text is overdue

	// A waiter may hold a worker at most 1ns: everything that would
	// wait is rescheduled.
	r := newRig(t, rigOptions{users: users, st: st, clock: clock, workers: 4, maxRateWait: time.Nanosecond})
	t0 := clock.Now()
	if err := r.q.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(r.tw.sentMessages()); got != 1 {
		t.Fatalf("%d texts in the first round, want 1 (the rest rescheduled)", got)
	}
	if got := r.mail.count(); got != users {
		t.Fatalf("%d e-mails in the first round, want all %d", got, users)
	}
	j := r.job(t, n.ID)
	slots := map[time.Time]bool{}
	for _, s := range j.Steps {
		if s.State != jobs.StepPending {
			continue
		}
		if s.Attempts != 0 || !s.NextAt.After(t0) || slots[s.NextAt] {
			t.Fatalf("%s: attempts %d, due %v (t0 %v): want a fresh slot of its own", s.Name, s.Attempts, s.NextAt, t0)
		}
		slots[s.NextAt] = true
	}
	if len(slots) != users-1 {
		t.Fatalf("%d texts rescheduled, want %d", len(slots), users-1)
	}
	j = r.drain(t, n.ID)
	texts := r.tw.sentMessages()
	if len(texts) != users || j.Failed() {
		t.Fatalf("%d texts, failed=%v", len(texts), j.Failed())
	}
	for i := 1; i < len(texts); i++ {
		if gap := texts[i].At.Sub(texts[i-1].At); gap < time.Second {
			t.Fatalf("texts %d and %d only %v apart at 1/s", i-1, i, gap)
		}
	}
}

func TestRatesFollowConfig(t *testing.T) {
	r := newRig(t, rigOptions{users: 1, patches: []teamtest.Patch{teamtest.Merge(`{"rates": {"sms_per_second": 5, "calls_per_second": 0.5}}`)}})
	if smsLimiter(r.out).Rate() != 5 || callLimiter(r.out).Rate() != 0.5 {
		t.Fatalf("rates %v/%v, want 5/0.5 from config", smsLimiter(r.out).Rate(), callLimiter(r.out).Rate())
	}
	r.cfg.set(parseTeam(t, teamJSON(1)))
	r.out.SyncRates()
	if smsLimiter(r.out).Rate() != team.DefaultSMSPerSecond || callLimiter(r.out).Rate() != team.DefaultCallsPerSecond {
		t.Fatalf("rates %v/%v after the section went, want the defaults", smsLimiter(r.out).Rate(), callLimiter(r.out).Rate())
	}
	fixed := outbound.New(outbound.Options{Config: r.cfg, Rates: outbound.Rates{SMSPerSecond: 1000, CallsPerSecond: 1000}})
	if smsLimiter(fixed).Rate() != 1000 {
		t.Fatalf("Options.Rates overridden by config: %v", smsLimiter(fixed).Rate())
	}
}

func TestLimiterNeverAboveRate(t *testing.T) {
	c := testclock.New()
	l := outbound.NewLimiter(4, c.Now, c.Sleep)
	t0 := c.Now()
	var at []time.Time
	for range 10 {
		if err := l.Wait(context.Background(), "+15555550100", 1); err != nil {
			t.Fatal(err)
		}
		at = append(at, c.Now())
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < time.Second/4 {
			t.Fatalf("sends %d and %d %v apart at 4/s", i-1, i, gap)
		}
	}
	if last := at[len(at)-1].Sub(t0); last != 2250*time.Millisecond {
		t.Fatalf("10 sends at 4/s took %v, want 2.25s", last)
	}
	// Keys are independent; a cancelled wait gives its slot back.
	if d := l.Delay("+15555550111"); d != 0 {
		t.Fatalf("other key waits %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := l.Delay("+15555550100")
	if err := l.Wait(ctx, "+15555550100", 1); err == nil {
		t.Fatal("cancelled wait succeeded")
	}
	if after := l.Delay("+15555550100"); after != before {
		t.Fatalf("cancelled wait kept its slot: delay %v -> %v", before, after)
	}
}

func TestOptOutRecordedNotRetried(t *testing.T) {
	r := newRig(t, rigOptions{users: 2, workers: 1})
	r.tw.failNext(400, 21610)
	n := r.notification(t, "db1 down")
	if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
		t.Fatal(err)
	}
	j := r.drain(t, n.ID)
	s := j.Step("u000/sms")
	if s.State != jobs.StepFailed || s.Attempts != 1 || !strings.Contains(s.LastError, "opted out") {
		t.Fatalf("opted-out step: %s after %d attempts: %s", s.State, s.Attempts, s.LastError)
	}
	if s := j.Step("u001/sms"); s.State != jobs.StepDone {
		t.Fatalf("the other text: %s", s.State)
	}
	rep, err := r.ntf.GetNotification(context.Background(), r.q, n.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Recipients[0].Deliveries[0]
	if d.State != "failed" || d.ErrorCode != "21610" || d.Attempts != 1 || rep.State != "partial" {
		t.Fatalf("report: %+v (state %s)", d, rep.State)
	}
}

func TestTemporaryFailureRetried(t *testing.T) {
	r := newRig(t, rigOptions{users: 1, workers: 1})
	r.tw.failNext(503, 20503)
	n := r.notification(t, "db1 down")
	if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
		t.Fatal(err)
	}
	j := r.drain(t, n.ID)
	if s := j.Step("u000/sms"); s.State != jobs.StepDone || s.Attempts != 2 {
		t.Fatalf("text: %s after %d attempts (%s)", s.State, s.Attempts, s.LastError)
	}
	if got := len(r.tw.sentMessages()); got != 1 {
		t.Fatalf("%d texts sent", got)
	}
}

func TestVoiceSaysTheMessageTwice(t *testing.T) {
	r := newRig(t, rigOptions{users: 1, workers: 1})
	rcs := []Recipient{{UserID: "u000", Name: "User 0", Routes: []Route{{Medium: team.MediumVoice, Address: "+15551000000"}}}}
	n := Notification{ID: NewID(), Source: "contact:u000", Message: "Disk <db1> & 97%", Recipients: rcs}
	if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
		t.Fatal(err)
	}
	r.drain(t, n.ID)
	calls := r.tw.sentCalls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0].Call
	verbs, err := twiml.Parse(c.Twiml)
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, v := range verbs {
		if v.Name == "Say" {
			said = append(said, v.Text)
		}
	}
	if len(said) != 2 || said[0] != "Disk <db1> & 97%" || said[1] != "Again: Disk <db1> & 97%" {
		t.Fatalf("said %q", said)
	}
	if c.From != "+15555550100" || c.To != "+15551000000" || c.StatusCallback != "https://pager.example.test/ack?job="+JobID(n.ID, 0)+"&n="+n.ID+"&step=u000%2Fvoice" {
		t.Fatalf("call %+v", c)
	}
}

func TestRecordStatus(t *testing.T) {
	r := newRig(t, rigOptions{users: 1, workers: 1})
	n := r.notification(t, "db1 down")
	ctx := context.Background()
	if err := r.ntf.Notify(ctx, r.q, n); err != nil {
		t.Fatal(err)
	}
	r.drain(t, n.ID)
	sid := r.tw.sentMessages()[0].SID
	if want := "https://pager.example.test/ack?job=" + JobID(n.ID, 0) + "&n=" + n.ID + "&step=u000%2Fsms"; r.tw.sentMessages()[0].StatusCallback != want {
		t.Fatalf("status callback %q, want %q", r.tw.sentMessages()[0].StatusCallback, want)
	}
	// The callback names the recipient's job; one without (a text sent
	// before the job was in the URL) is found by its step.
	job := JobID(n.ID, 0)
	st := func(status, s string) bool {
		t.Helper()
		changed, err := r.ntf.RecordStatus(ctx, r.q, Status{ID: n.ID, Job: job, Step: "u000/sms", SID: s, Status: status}, r.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	if !st("sent", sid) {
		t.Fatal("status not recorded")
	}
	job = ""
	if !st("delivered", sid) {
		t.Fatal("status without the job not recorded")
	}
	if st("sent", sid) || st("delivered", "SMother") || st("bogus", sid) {
		t.Fatal("late, foreign or unknown status recorded")
	}
	rep, err := r.ntf.GetNotification(ctx, r.q, n.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Recipients[0].Deliveries[0]
	if d.State != "delivered" || d.Status != "delivered" || d.DeliveredAt.IsZero() || d.SID != sid || d.Address != "+*******0000" {
		t.Fatalf("delivery %+v", d)
	}
	if _, err := r.ntf.RecordStatus(ctx, r.q, Status{ID: n.ID, Step: "nobody/sms", SID: sid, Status: "sent"}, r.clock.Now()); !errors.Is(err, ErrUnknownDelivery) {
		t.Fatalf("unknown step: %v", err)
	}
	if _, err := r.ntf.RecordStatus(ctx, r.q, Status{ID: NewID(), Step: "u000/sms", SID: sid, Status: "sent"}, r.clock.Now()); !errors.Is(err, ErrUnknownDelivery) {
		t.Fatalf("unknown notification: %v", err)
	}
	if _, err := r.ntf.RecordStatus(ctx, r.q, Status{ID: n.ID, Job: JobID(NewID(), 0), Step: "u000/sms", SID: sid, Status: "sent"}, r.clock.Now()); !errors.Is(err, ErrUnknownDelivery) {
		t.Fatalf("another notification's job: %v", err)
	}
	// The result as stored is the transmission log entry.
	j, _ := r.q.Get(ctx, JobID(n.ID, 0))
	var got Delivery
	if err := json.Unmarshal(j.Step("u000/sms").Result, &got); err != nil || got.Medium != team.MediumSMS || got.Attempts != 1 {
		t.Fatalf("stored result %+v, %v", got, err)
	}
}

// A replica that did not queue a notification delivers it all the same:
// the kind's handler takes steps named after any recipient.
func TestAnotherReplicaDelivers(t *testing.T) {
	st, clock := storetest.NewMem(), testclock.New()
	a := newRig(t, rigOptions{users: 2, st: st, clock: clock})
	n := a.notification(t, "db1 down")
	if err := a.ntf.Notify(context.Background(), a.q, n); err != nil {
		t.Fatal(err)
	}
	b := newRig(t, rigOptions{users: 2, st: st, clock: clock, workers: 1})
	b.drain(t, n.ID)
	if len(b.tw.sentMessages()) != 2 || b.mail.count() != 2 || len(a.tw.sentMessages())+a.mail.count() != 0 {
		t.Fatalf("%d texts, %d e-mails by the other replica; %d by the first", len(b.tw.sentMessages()), b.mail.count(),
			len(a.tw.sentMessages())+a.mail.count())
	}
}

func TestMaskAddress(t *testing.T) {
	for _, tc := range []struct {
		m          team.Medium
		addr, want string
	}{
		{team.MediumSMS, "+15555550101", "+*******0101"},
		{team.MediumVoice, "+44 7700 900123", "+********0123"},
		{team.MediumSignal, "123", "***"},
		{team.MediumEmail, "alice@example.com", "a***@example.com"},
		{team.MediumEmail, "élodie@example.fr", "é***@example.fr"},
		{team.MediumWebhook, "https://hooks.example.com/T0/secret?x=1", "https://hooks.example.com/..."},
		{team.MediumSlack, "https://hooks.slack.com/services/T/B/X", "https://hooks.slack.com/..."},
		{team.MediumWebhook, "https://hooks.example.com", "https://hooks.example.com"},
		{team.MediumPushover, "uQiRzpo4DXghDmr9QzzfQu27cmVRsG", strings.Repeat("*", 26) + "VRsG"},
		{team.MediumMattermost, "@alice", "@alice"},
		{team.MediumMattermost, "https://chat.example.com/hooks/xyz", "https://chat.example.com/..."},
		{team.MediumSMS, "", ""},
	} {
		if got := outbound.MaskAddress(tc.m, tc.addr); got != tc.want {
			t.Errorf("outbound.MaskAddress(%s, %q) = %q, want %q", tc.m, tc.addr, got, tc.want)
		}
	}
}

func TestEmailSubject(t *testing.T) {
	if got := EmailSubject("", "  Disk full\nmore"); got != "[OnCall] Disk full" {
		t.Errorf("got %q", got)
	}
	if got := EmailSubject("Disk", "x"); got != "Disk" {
		t.Errorf("got %q", got)
	}
	if got := EmailSubject(strings.Repeat("é", 200), ""); len([]rune(got)) != 120 || !strings.HasSuffix(got, "...") {
		t.Errorf("got %q", got)
	}
}

func TestNamedChannelTextsFromItsOwnNumber(t *testing.T) {
	r := newRig(t, rigOptions{users: 1, workers: 1, patches: []teamtest.Patch{teamtest.Merge(`{
  "notification_channels": {"duty-sms": {"type": "sms", "from_phone": "+15555550160", "to": ["+15555550161", "+15555550162"]}},
  "events": {"fire": {"message": "Fire in {{ room }}", "channels": ["duty-sms"]}}}`)}})
	_, rcs, err := ResolveEvent(r.cfg.Current(), "fire")
	if err != nil {
		t.Fatal(err)
	}
	n := Notification{ID: NewID(), Source: "event:fire", Message: "Fire in B2", Recipients: rcs}
	if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
		t.Fatal(err)
	}
	j := r.drain(t, n.ID)
	var names []string
	for _, s := range j.Steps {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "channel:duty-sms/sms/duty-sms channel:duty-sms/sms/duty-sms#2" {
		t.Fatalf("steps %s", got)
	}
	texts := r.tw.sentMessages()
	if len(texts) != 2 || texts[0].From != "+15555550160" || texts[0].To != "+15555550161" || texts[1].To != "+15555550162" {
		t.Fatalf("texts %+v", texts)
	}
	if gap := texts[1].At.Sub(texts[0].At); gap < time.Second {
		t.Fatalf("the channel's number sent two texts %v apart", gap)
	}
}

// A thousand texts are planned at the rate, one per second per sender,
// with the e-mail beside them due at once; a second notification queued
// meanwhile is planned after the first, not on top of it.
func TestThousandTextsPlannedAtTheRate(t *testing.T) {
	const users = 1000
	r := newRig(t, rigOptions{users: users})
	t0 := r.clock.Now()
	first, second := r.notification(t, "db1 down"), r.notification(t, "db2 down")
	for _, n := range []Notification{first, second} {
		if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
			t.Fatal(err)
		}
	}
	perSecond := map[time.Time]int{}
	for i, n := range []Notification{first, second} {
		j := r.job(t, n.ID)
		k := 0
		for _, s := range j.Steps {
			if strings.HasSuffix(s.Name, "/email") {
				if !s.NextAt.IsZero() {
					t.Fatalf("%s due at %v, want at once", s.Name, s.NextAt)
				}
				continue
			}
			due := t0
			if !s.NextAt.IsZero() {
				due = s.NextAt
			}
			if want := t0.Add(time.Duration(i*users+k) * time.Second); !due.Equal(want) {
				t.Fatalf("notification %d, %s due %v, want %v", i, s.Name, due.Sub(t0), want.Sub(t0))
			}
			perSecond[due.Truncate(time.Second)]++
			k++
		}
	}
	for sec, n := range perSecond {
		if n > 1 {
			t.Fatalf("%d texts due in the second at +%v", n, sec.Sub(t0))
		}
	}
}

// A crash while the jobs were being stored leaves the record and some of
// the jobs: the report says who is missing, and Notify with the same ID
// (what the API does after a store error) creates only the missing jobs.
func TestNotifyAgainCreatesOnlyMissingJobs(t *testing.T) {
	r := newRig(t, rigOptions{users: 3})
	n := r.notification(t, "db1 down")
	ctx := context.Background()
	if err := r.ntf.Notify(ctx, r.q, n); err != nil {
		t.Fatal(err)
	}
	lost := "jobs/active/" + JobID(n.ID, 1) + ".json"
	if err := r.st.Delete(ctx, lost); err != nil {
		t.Fatal(err)
	}
	rep, err := r.ntf.GetNotification(ctx, r.q, n.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unqueued != 1 || len(rep.Recipients) != 2 || rep.Recipients[1].UserID != "u002" || rep.Counts.Pending != 4 {
		t.Fatalf("report with a job missing: unqueued %d, %d recipients %+v", rep.Unqueued, len(rep.Recipients), rep.Counts)
	}
	writes, _ := r.st.Writes()
	if err := r.ntf.Notify(ctx, r.q, n); err != nil {
		t.Fatalf("Notify again: %v", err)
	}
	if w, _ := r.st.Writes(); w != writes+1 {
		t.Fatalf("Notify again wrote %d objects, want 1 (the missing job)", w-writes)
	}
	if _, err := r.st.Get(ctx, lost); err != nil {
		t.Fatalf("missing job not created: %v", err)
	}
	if err := r.ntf.Notify(ctx, r.q, n); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("third Notify: %v, want ErrDuplicate", err)
	}
	j := r.drain(t, n.ID)
	if j.Failed() || len(r.tw.sentMessages()) != 3 || r.mail.count() != 3 {
		t.Fatalf("%d texts, %d e-mails, failed=%v", len(r.tw.sentMessages()), r.mail.count(), j.Failed())
	}
	if rep, err = r.ntf.GetNotification(ctx, r.q, n.ID, nil); err != nil || rep.State != "done" || rep.Unqueued != 0 || rep.Finished.IsZero() {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

// Skipped recipients have no job but keep their place in the report.
func TestReportKeepsSkippedRecipientsInOrder(t *testing.T) {
	r := newRig(t, rigOptions{users: 2, workers: 1})
	n := r.notification(t, "db1 down")
	n.Recipients = append([]Recipient{{UserID: "gone", Name: "Gone", Skipped: SkipUserDisabled}}, n.Recipients...)
	ctx := context.Background()
	if err := r.ntf.Notify(ctx, r.q, n); err != nil {
		t.Fatal(err)
	}
	r.drain(t, n.ID)
	rep, err := r.ntf.GetNotification(ctx, r.q, n.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rc := range rep.Recipients {
		got = append(got, fmt.Sprintf("%s:%s:%d", rc.UserID, rc.Skipped, len(rc.Deliveries)))
	}
	if s := strings.Join(got, " "); s != "gone:"+SkipUserDisabled+":0 u000::2 u001::2" || rep.State != "done" ||
		rep.Source != "group:everyone" || rep.Text != "db1 down" {
		t.Fatalf("report %s %s %+v", s, rep.State, rep)
	}
	if _, err := r.ntf.GetNotification(ctx, r.q, NewID(), nil); !IsNotFound(err) {
		t.Fatalf("unknown notification: %v", err)
	}
}

// Quote marks and ampersands grow when escaped: the spoken text is cut to
// what fits the escaped document Twilio receives (4,000 characters), so
// the call is placed.
func TestVoiceWithQuotesFitsTwilioLimit(t *testing.T) {
	r := newRig(t, rigOptions{users: 1, workers: 1})
	rcs := []Recipient{{UserID: "u000", Name: "User 0", Routes: []Route{
		{Medium: team.MediumVoice, Address: "+15551000000"}, {Medium: team.MediumSMS, Address: "+15551000000"}}}}
	msg := strings.Repeat(`"`, 207) + strings.Repeat("& x ", 200)
	n := Notification{ID: NewID(), Source: "contact:u000", Message: msg, Recipients: rcs}
	if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
		t.Fatal(err)
	}
	j := r.drain(t, n.ID)
	if s := j.Step("u000/voice"); s.State != jobs.StepDone {
		t.Fatalf("voice: %s after %d attempts (%s)", s.State, s.Attempts, s.LastError)
	}
	calls := r.tw.sentCalls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	if n := utf8.RuneCountInString(calls[0].Call.Twiml); n > mocktwilio.MaxInlineTwiml {
		t.Fatalf("TwiML of %d characters", n)
	}
	verbs, err := twiml.Parse(calls[0].Call.Twiml)
	if err != nil {
		t.Fatal(err)
	}
	if said := verbs[0].Text; !strings.HasPrefix(said, strings.Repeat(`"`, 207)) {
		t.Fatalf("said %q", said)
	}
	if len(r.tw.sentMessages()) != 1 {
		t.Fatal("the text route was not sent")
	}
}

// A call Twilio refuses for good leaves the person's other routes to
// reach them: the text still goes, and the report names the refusal.
func TestRefusedCallOtherRoutesStillSent(t *testing.T) {
	r := newRig(t, rigOptions{users: 1, workers: 1})
	r.tw.failNextCall(400, 32018)
	rcs := []Recipient{{UserID: "u000", Name: "User 0", Routes: []Route{
		{Medium: team.MediumVoice, Address: "+15551000000"}, {Medium: team.MediumSMS, Address: "+15551000000"}}}}
	n := Notification{ID: NewID(), Source: "contact:u000", Message: "db1", Recipients: rcs}
	if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
		t.Fatal(err)
	}
	j := r.drain(t, n.ID)
	if s := j.Step("u000/voice"); s.State != jobs.StepFailed || s.Attempts != 1 {
		t.Fatalf("voice: %s after %d attempts (%s)", s.State, s.Attempts, s.LastError)
	}
	if s := j.Step("u000/sms"); s.State != jobs.StepDone {
		t.Fatalf("sms: %s (%s)", s.State, s.LastError)
	}
}

// A text whose answer was lost (Twilio took it, the answer timed out) is
// found on Twilio when the step runs again, not sent twice.
func TestLostAnswerNotSentTwice(t *testing.T) {
	r := newRig(t, rigOptions{users: 1, workers: 1})
	r.tw.mu.Lock()
	r.tw.lose = true
	r.tw.mu.Unlock()
	n := r.notification(t, "db1 down")
	if err := r.ntf.Notify(context.Background(), r.q, n); err != nil {
		t.Fatal(err)
	}
	j := r.drain(t, n.ID)
	s := j.Step("u000/sms")
	if s.State != jobs.StepDone || s.Attempts != 2 {
		t.Fatalf("text: %s after %d attempts (%s)", s.State, s.Attempts, s.LastError)
	}
	if got := len(r.tw.sentMessages()); got != 1 {
		t.Fatalf("%d texts sent; want 1", got)
	}
}

// A read the caller may not make is refused on the notification's record
// alone: the recipients' jobs (a LIST and a GET each) are not read for
// it, however many there are.
func TestReportRefusedBeforeReadingJobs(t *testing.T) {
	r := newRig(t, rigOptions{users: 20})
	n := r.notification(t, "db1 down")
	ctx := context.Background()
	if err := r.ntf.Notify(ctx, r.q, n); err != nil {
		t.Fatal(err)
	}
	fs := storetest.Faulty(r.st)
	ntf := New(r.out, Options{Store: fs, Config: r.cfg, Now: r.clock.Now})
	q := jobs.New(fs, jobs.Options{Now: r.clock.Now})
	var asked []string
	refuse := func(apiKey string) bool { asked = append(asked, apiKey); return false }
	if _, err := ntf.GetNotification(ctx, q, n.ID, refuse); !errors.Is(err, ErrNotPermitted) || !IsNotFound(err) {
		t.Fatalf("refused read: %v, want ErrNotPermitted (a not-found)", err)
	}
	if got := fs.Requests(); fs.Total() > 1 || got["List"] != 0 {
		t.Fatalf("refused read made store calls %v, want the record's GET alone", got)
	}
	if len(asked) != 1 || asked[0] != n.APIKey {
		t.Fatalf("may asked about %q, want [%s]", asked, n.APIKey)
	}
	fs.ResetRequests()
	rep, err := ntf.GetNotification(ctx, q, n.ID, func(k string) bool { return k == n.APIKey })
	if err != nil || len(rep.Recipients) != 20 || rep.APIKey != n.APIKey {
		t.Fatalf("permitted read: %d recipients, key %q, %v", len(rep.Recipients), rep.APIKey, err)
	}
	if fs.Requests()["List"] == 0 {
		t.Fatalf("permitted read listed no jobs: %v", fs.Requests())
	}
}

// meterLog records what a Meter is told.
type meterLog struct {
	mu  sync.Mutex
	got []string
}

func (m *meterLog) Notification(channel, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, channel+"/"+outcome)
}

// take is what was counted since the last take, in sorted order.
func (m *meterLog) take() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	slices.Sort(m.got)
	s := strings.Join(m.got, " ")
	m.got = nil
	return s
}

// A status callback that settles a delivery counts it once, under the
// medium its send was counted under; one that settles nothing (a late or
// repeated one) counts nothing.
func TestRecordStatusCountsSettledDeliveries(t *testing.T) {
	r := newRig(t, rigOptions{users: 1, workers: 1})
	m := &meterLog{}
	ntf := New(r.out, Options{Store: r.st, Config: r.cfg, BaseURL: "https://pager.example.test", Now: r.clock.Now, Meter: m})
	ntf.Register(r.q)
	rcs := []Recipient{{UserID: "u000", Name: "User 0", Routes: []Route{
		{Medium: team.MediumSMS, Address: "+15551000000"}, {Medium: team.MediumVoice, Address: "+15551000000"}}}}
	n := Notification{ID: NewID(), Source: "contact:u000", Message: "db1 down", Recipients: rcs}
	ctx := context.Background()
	if err := ntf.Notify(ctx, r.q, n); err != nil {
		t.Fatal(err)
	}
	r.drain(t, n.ID)
	if got, want := m.take(), string(team.MediumSMS)+"/sent "+string(team.MediumVoice)+"/sent"; got != want {
		t.Fatalf("sends counted %q, want %q", got, want)
	}
	text, call := r.tw.sentMessages()[0].SID, r.tw.sentCalls()[0].SID
	for _, c := range []struct {
		s       Status
		changed bool
		counted string
	}{
		{Status{Step: "u000/sms", SID: text, Status: "sent", Kind: twilio.KindMessage}, true, ""},
		{Status{Step: "u000/sms", SID: text, Status: "delivered", Kind: twilio.KindMessage}, true, "sms/delivered"},
		{Status{Step: "u000/sms", SID: text, Status: "delivered", Kind: twilio.KindMessage}, false, ""},
		{Status{Step: "u000/sms", SID: text, Status: "read", Kind: twilio.KindMessage}, true, ""},
		{Status{Step: "u000/voice", SID: call, Status: "no-answer", Kind: twilio.KindCall}, true, "voice/failed"},
		{Status{Step: "u000/voice", SID: call, Status: "ringing", Kind: twilio.KindCall}, false, ""},
	} {
		c.s.ID, c.s.Job = n.ID, JobID(n.ID, 0)
		changed, err := ntf.RecordStatus(ctx, r.q, c.s, r.clock.Now())
		if err != nil || changed != c.changed {
			t.Fatalf("%s %s: changed %v, %v; want %v", c.s.Step, c.s.Status, changed, err, c.changed)
		}
		if got := m.take(); got != c.counted {
			t.Fatalf("%s %s counted %q, want %q", c.s.Step, c.s.Status, got, c.counted)
		}
	}
}
