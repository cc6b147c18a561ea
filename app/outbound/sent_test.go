package outbound_test

import (
	"context"
	"testing"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
	"github.com/oncall/pager/internal/testclock"
)

const (
	pagerNumber = "+15005550001"
	aliceNumber = "+15005550006"
	retryAfter  = 5 * time.Minute
)

// sentRig runs page jobs (a call step and a text step) through the real
// Twilio client against the mock, which checks each request against
// Twilio's spec; the queue, the outbound path and the mock share a fake
// clock.
type sentRig struct {
	clk  *testclock.Clock
	mock *mocktwilio.Server
	tw   *twilio.Client
	out  *outbound.Outbound
	q    *jobs.Queue
}

func newSentRig(t *testing.T) *sentRig {
	t.Helper()
	clk := testclock.New()
	mock := mocktwilio.New(t)
	mock.SetClock(clk.Now)
	tw, err := twilio.New(twilio.Config{AccountSID: mock.AccountSID(), AuthToken: mock.AuthToken(), BaseURL: mock.URL()})
	if err != nil {
		t.Fatal(err)
	}
	o := outbound.New(outbound.Options{Twilio: tw, Rates: outbound.Rates{SMSPerSecond: 100, CallsPerSecond: 100}, Now: clk.Now,
		Sleep: func(_ context.Context, d time.Duration) error { clk.Advance(d); return nil }})
	q := jobs.New(newLocal(t), jobs.Options{Now: clk.Now, Backoff: func(int) time.Duration { return retryAfter }})
	q.Handle("page", "call", func(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
		s, err := o.StartCallStep(ctx, q, job, step, outbound.Call{From: pagerNumber, To: aliceNumber, Twiml: "<Response><Say>db1 down</Say></Response>"})
		if err != nil {
			return nil, err
		}
		return s, nil
	})
	q.Handle("page", "text", func(ctx context.Context, job *jobs.Job, step *jobs.Step) (any, error) {
		s, err := o.SendTextStep(ctx, q, job, step, outbound.Text{From: pagerNumber, To: aliceNumber, Body: "db1 down", MediaURL: []string{"https://pager.example/vm/1"}})
		if err != nil {
			return nil, err
		}
		return s, nil
	})
	return &sentRig{clk: clk, mock: mock, tw: tw, out: o, q: q}
}

// enqueue stores a one-step page job.
func (r *sentRig) enqueue(t *testing.T, id, step string) {
	t.Helper()
	if _, err := r.q.Enqueue(context.Background(), jobs.Job{ID: id, Kind: "page", Steps: []jobs.Step{{Name: step}}}); err != nil {
		t.Fatal(err)
	}
}

func (r *sentRig) runOnce(t *testing.T) {
	t.Helper()
	if err := r.q.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// step is the job's only step, and what it recorded.
func (r *sentRig) step(t *testing.T, id string) (jobs.Step, twilio.Sent) {
	t.Helper()
	j, err := r.q.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	s := j.Steps[0]
	var sent twilio.Sent
	if s.State == jobs.StepDone {
		if err := s.Decode(&sent); err != nil {
			t.Fatal(err)
		}
	}
	return s, sent
}

// retry moves the clock to the step's retry and runs it.
func (r *sentRig) retry(t *testing.T, id string) {
	t.Helper()
	s, _ := r.step(t, id)
	if s.State != jobs.StepPending || s.Attempts != 1 {
		t.Fatalf("after the first attempt: %s after %d attempts (%s); want pending after 1", s.State, s.Attempts, s.LastError)
	}
	r.clk.Advance(retryAfter)
	r.runOnce(t)
}

// A call step whose first attempt Twilio refused is not done by another
// job's call from the same number to the same person, made after the job
// was created (an alert page placed while the step waited for its retry):
// the step places its own call.
func TestRetriedCallDoesNotTakeAnotherJobsCall(t *testing.T) {
	r := newSentRig(t)
	r.mock.FailNext("Calls.json", 503, 20003, 1)
	r.enqueue(t, "page-1", "call")
	r.runOnce(t)
	r.clk.Advance(2 * time.Minute)
	other, err := r.tw.StartCall(context.Background(), twilio.Call{From: pagerNumber, To: aliceNumber, Twiml: "<Response><Say>another alert</Say></Response>"})
	if err != nil {
		t.Fatal(err)
	}
	r.retry(t, "page-1")
	s, sent := r.step(t, "page-1")
	calls := r.mock.Calls()
	if s.State != jobs.StepDone || len(calls) != 2 || sent.SID != calls[1].SID || sent.SID == other {
		t.Fatalf("step %s recorded %+v with %d calls placed; want its own call (not %s) as the second", s.State, sent, len(calls), other)
	}
}

// A text step's retry is not done by a text of the same body sent to the
// same person by another job before this step's attempt ran.
func TestRetriedTextDoesNotTakeAnEarlierJobsText(t *testing.T) {
	r := newSentRig(t)
	r.enqueue(t, "page-1", "text")
	r.clk.Advance(-10 * time.Second)
	other, err := r.tw.SendMessage(context.Background(), twilio.Message{From: pagerNumber, To: aliceNumber, Body: "db1 down"})
	if err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(5 * time.Minute)
	r.mock.FailNext("Messages.json", 503, 20003, 1)
	r.runOnce(t)
	r.retry(t, "page-1")
	s, sent := r.step(t, "page-1")
	msgs := r.mock.Messages()
	if s.State != jobs.StepDone || len(msgs) != 2 || sent.SID != msgs[1].SID || sent.SID == other {
		t.Fatalf("step %s recorded %+v with %d texts sent; want its own text (not %s) as the second", s.State, sent, len(msgs), other)
	}
}

// A send that reached Twilio but failed there (a busy call, an MMS
// undelivered) is no reason not to send again: nobody got it.
func TestFailedEarlierSendIsSentAgain(t *testing.T) {
	for _, tc := range []struct{ step, status string }{
		{"call", "busy"}, {"call", "no-answer"}, {"call", "failed"}, {"call", "canceled"},
		{"text", "undelivered"}, {"text", "failed"}, {"text", "canceled"},
	} {
		t.Run(tc.step+" "+tc.status, func(t *testing.T) {
			r, first := lostAnswerThenRetry(t, tc.step, tc.status)
			s, sent := r.step(t, "page-1")
			if all := r.sids(tc.step); s.State != jobs.StepDone || len(all) != 2 || all[0] != first || sent.SID != all[1] || sent.Status != "queued" {
				t.Fatalf("step %s recorded %+v after %d sends; want a second send, queued", s.State, sent, len(all))
			}
		})
	}
}

// A send whose answer was lost is found on the retry, not sent again, and
// the step records it as Twilio has it now: its callbacks, which came
// while the step had recorded nothing, are not sent again.
func TestLostAnswerSendFoundWithItsStatus(t *testing.T) {
	for _, tc := range []struct{ step, status string }{
		{"call", "completed"}, {"call", "in-progress"}, {"call", "queued"},
		{"text", "delivered"}, {"text", "sent"}, {"text", "queued"},
	} {
		t.Run(tc.step+" "+tc.status, func(t *testing.T) {
			r, first := lostAnswerThenRetry(t, tc.step, tc.status)
			s, sent := r.step(t, "page-1")
			if all := r.sids(tc.step); s.State != jobs.StepDone || len(all) != 1 || sent != (twilio.Sent{SID: first, Status: tc.status}) {
				t.Fatalf("step %s recorded %+v after %d sends; want %s as %s, not sent again", s.State, sent, len(all), first, tc.status)
			}
		})
	}
}

// lostAnswerThenRetry runs a one-step page job ("call" or "text") whose
// send Twilio took with its answer lost, lets Twilio move that send to
// status, and runs the step's retry; first is the lost send's SID.
func lostAnswerThenRetry(t *testing.T, step, status string) (r *sentRig, first string) {
	t.Helper()
	r = newSentRig(t)
	resource := "Calls.json"
	if step == "text" {
		resource = "Messages.json"
	}
	r.mock.LoseNext(resource, 1)
	r.enqueue(t, "page-1", step)
	r.runOnce(t)
	sids := r.sids(step)
	if len(sids) != 1 {
		t.Fatalf("%d sends after the lost answer; want 1", len(sids))
	}
	r.mock.SetStatus(sids[0], status)
	r.retry(t, "page-1")
	return r, sids[0]
}

// sids are the SIDs of the calls or texts the mock took, in order.
func (r *sentRig) sids(step string) []string {
	var out []string
	if step == "call" {
		for _, c := range r.mock.Calls() {
			out = append(out, c.SID)
		}
		return out
	}
	for _, m := range r.mock.Messages() {
		out = append(out, m.SID)
	}
	return out
}

// A page sent with plain SendText or StartCall from a job step (an alert's
// escalation pages so, a whole group in one step) whose answer was lost is
// found on the step's retry, not sent again; outside a step nothing is
// looked up.
func TestSendFromStepFoundAfterLostAnswer(t *testing.T) {
	for _, kind := range []string{"text", "call"} {
		t.Run(kind, func(t *testing.T) {
			r := newSentRig(t)
			send := func(ctx context.Context) (string, error) {
				if kind == "call" {
					return r.out.StartCall(ctx, outbound.Call{From: pagerNumber, To: aliceNumber, Twiml: "<Response><Say>db1 down</Say></Response>"})
				}
				return r.out.SendText(ctx, outbound.Text{From: pagerNumber, To: aliceNumber, Body: "[7a/7c] db1 down"})
			}
			r.q.Handle("alert", "page", func(ctx context.Context, _ *jobs.Job, _ *jobs.Step) (any, error) {
				sid, err := send(ctx)
				return twilio.Sent{SID: sid}, err
			})
			resource := "Messages.json"
			if kind == "call" {
				resource = "Calls.json"
			}
			r.mock.LoseNext(resource, 1)
			if _, err := r.q.Enqueue(context.Background(), jobs.Job{ID: "alert-1", Kind: "alert", Steps: []jobs.Step{{Name: "page"}}}); err != nil {
				t.Fatal(err)
			}
			r.runOnce(t)
			r.retry(t, "alert-1")
			s, sent := r.step(t, "alert-1")
			sid := sent.SID
			if all := r.sids(kind); s.State != jobs.StepDone || len(all) != 1 || sid != all[0] {
				t.Fatalf("step %s recorded %q after %d sends; want the first send (%v) found, not sent again", s.State, sid, len(all), all)
			}
			// The same page outside any step is a new page.
			if _, err := send(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := len(r.sids(kind)); n != 2 {
				t.Fatalf("%d sends after a second page outside a step; want 2", n)
			}
		})
	}
}
