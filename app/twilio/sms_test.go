package twilio_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
	"github.com/oncall/pager/internal/testclock"
)

var messageSID = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

func TestSendSMS(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	sid, err := c.SendMessage(t.Context(), twilio.Message{
		From: "+15005550001", To: "+15005550006", Body: "Okay, Ann, you are now on call.",
		StatusCallback: "https://pager.example.com/public/mmsstatuscb",
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := mock.Messages()
	if len(msgs) != 1 {
		t.Fatalf("mock got %d messages", len(msgs))
	}
	m := msgs[0]
	if !messageSID.MatchString(sid) || sid != m.SID {
		t.Errorf("sid %q, mock assigned %q", sid, m.SID)
	}
	if m.From != "+15005550001" || m.To != "+15005550006" || m.Body != "Okay, Ann, you are now on call." ||
		m.StatusCallback != "https://pager.example.com/public/mmsstatuscb" || len(m.MediaURL) != 0 {
		t.Errorf("mock recorded %+v", m)
	}
	var fields []string
	for k := range m.Params {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	if want := []string{"Body", "From", "StatusCallback", "To"}; !slices.Equal(fields, want) {
		t.Errorf("sent fields %v, want %v", fields, want)
	}
}

func TestSendMMS(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	media := []string{"https://pager.example.com/media/a.mp3", "https://pager.example.com/media/b.png"}
	if _, err := c.SendMessage(t.Context(), twilio.Message{From: "+15005550001", To: "+15005550006", Body: "voicemail", MediaURL: media}); err != nil {
		t.Fatal(err)
	}
	m := mock.Messages()[0]
	if !slices.Equal(m.MediaURL, media) {
		t.Errorf("media %q, want %q in order", m.MediaURL, media)
	}
	// Media alone, no body, is a valid MMS.
	if _, err := c.SendMessage(t.Context(), twilio.Message{From: "+15005550001", To: "+15005550006", MediaURL: media[:1]}); err != nil {
		t.Fatal(err)
	}
	if m := mock.Messages()[1]; m.Params.Has("Body") {
		t.Errorf("empty body was sent: %v", m.Params)
	}
}

func TestSendMessageRejectsInvalidWithoutSending(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	many := make([]string, 11)
	for i := range many {
		many[i] = "https://example.com/x.png"
	}
	for name, m := range map[string]twilio.Message{
		"no To":          {From: "+15005550001", Body: "x"},
		"no From":        {To: "+15005550006", Body: "x"},
		"nothing to say": {From: "+15005550001", To: "+15005550006"},
		"11 media":       {From: "+15005550001", To: "+15005550006", MediaURL: many},
	} {
		_, err := c.SendMessage(t.Context(), m)
		if !errors.Is(err, twilio.ErrInvalidRequest) || !twilio.IsPermanent(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(mock.Requests()); n != 0 {
		t.Errorf("%d requests sent for invalid messages", n)
	}
}

func TestSendMessageOptOut(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	mock.FailNext("Messages.json", 400, 21610, 1)
	msg := twilio.Message{From: "+15005550001", To: "+15005550006", Body: "page"}
	_, err := c.SendMessage(t.Context(), msg)
	if !twilio.IsPermanent(err) || !twilio.IsOptOut(err) {
		t.Fatalf("err %v: permanent %v, opt-out %v", err, twilio.IsPermanent(err), twilio.IsOptOut(err))
	}
	var te *twilio.Error
	if !errors.As(err, &te) || te.Status != 400 || te.Code != 21610 || te.MoreInfo != "https://www.twilio.com/docs/errors/21610" || te.Message == "" {
		t.Errorf("error %#v", te)
	}
	if _, err := c.SendMessage(t.Context(), msg); err != nil {
		t.Errorf("after the injected failure: %v", err)
	}
}

func TestSendMessageTemporaryFailures(t *testing.T) {
	for _, status := range []int{500, 503, 429} {
		mock := mocktwilio.New(t)
		c := newClient(t, mock)
		mock.FailNext("Messages.json", status, 0, 1)
		_, err := c.SendMessage(t.Context(), twilio.Message{From: "+15005550001", To: "+15005550006", Body: "page"})
		var te *twilio.Error
		if !errors.As(err, &te) || te.Status != status || te.Code != 20000+status {
			t.Errorf("%d: error %v", status, err)
		}
		if twilio.IsPermanent(err) || twilio.IsOptOut(err) {
			t.Errorf("%d: classified permanent/opt-out", status)
		}
	}
}

func TestSendMessageInvalidNumberIsPermanent(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	mock.FailNext("Messages.json", 400, 21211, 1)
	_, err := c.SendMessage(t.Context(), twilio.Message{From: "+15005550001", To: "+15005550001", Body: "page"})
	if !twilio.IsPermanent(err) || twilio.IsOptOut(err) {
		t.Errorf("21211: permanent %v, opt-out %v", twilio.IsPermanent(err), twilio.IsOptOut(err))
	}
}

// A send whose answer was lost is found on Twilio by To, From, body and
// creation within the window its attempt ran in, with its status, so it is
// not sent twice.
func TestFindMessageAndCall(t *testing.T) {
	clk := testclock.New()
	mock := mocktwilio.New(t)
	mock.SetClock(clk.Now)
	c := newClient(t, mock)
	ctx := context.Background()
	w := twilio.Window{Start: clk.Now().Add(-time.Minute), End: clk.Now().Add(time.Minute)}
	sid, err := c.SendMessage(ctx, twilio.Message{From: "+15005550001", To: "+15005550006", Body: "db1 down"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, twilio.Message{From: "+15005550001", To: "+15005550007", Body: "db1 down"}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := c.FindMessage(ctx, "+15005550001", "+15005550006", "db1 down", w); err != nil || !ok || got != (twilio.Sent{SID: sid, Status: "sent"}) {
		t.Fatalf("FindMessage = %+v %v %v; want %s, sent", got, ok, err, sid)
	}
	if _, ok, err := c.FindMessage(ctx, "+15005550001", "+15005550006", "db2 down", w); err != nil || ok {
		t.Fatalf("another body found: %v %v", ok, err)
	}
	later := twilio.Window{Start: clk.Now().Add(time.Hour), End: clk.Now().Add(2 * time.Hour)}
	if _, ok, err := c.FindMessage(ctx, "+15005550001", "+15005550006", "db1 down", later); err != nil || ok {
		t.Fatalf("an older message found: %v %v", ok, err)
	}
	earlier := twilio.Window{Start: clk.Now().Add(-time.Hour), End: clk.Now().Add(-time.Minute)}
	if _, ok, err := c.FindMessage(ctx, "+15005550001", "+15005550006", "db1 down", earlier); err != nil || ok {
		t.Fatalf("a message sent after the window found: %v %v", ok, err)
	}
	mock.SetStatus(sid, "delivered")
	if got, ok, err := c.FindMessage(ctx, "+15005550001", "+15005550006", "db1 down", w); err != nil || !ok || got.Status != "delivered" {
		t.Fatalf("FindMessage = %+v %v %v; want it delivered", got, ok, err)
	}
	if _, ok, err := c.FindCall(ctx, "+15005550001", "+15005550006", w); err != nil || ok {
		t.Fatalf("a call found before any: %v %v", ok, err)
	}
	csid, err := c.StartCall(ctx, twilio.Call{From: "+15005550001", To: "+15005550006", Twiml: "<Response/>"})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := c.FindCall(ctx, "+15005550001", "+15005550006", w); err != nil || !ok || got != (twilio.Sent{SID: csid, Status: "completed"}) {
		t.Fatalf("FindCall = %+v %v %v; want %s, completed", got, ok, err, csid)
	}
	if _, ok, err := c.FindCall(ctx, "+15005550001", "+15005550006", earlier); err != nil || ok {
		t.Fatalf("a call placed after the window found: %v %v", ok, err)
	}
}

// Sends Twilio still holds have no date_sent or start_time, which its
// date filters go by: they are found all the same, since a send queued
// when its answer was lost is the likeliest to be looked up. Sends that
// failed are not: nobody got them.
func TestFindQueuedButNotFailedSends(t *testing.T) {
	clk := testclock.New()
	mock := mocktwilio.New(t)
	mock.SetClock(clk.Now)
	c := newClient(t, mock)
	ctx := context.Background()
	w := twilio.Window{Start: clk.Now().Add(-time.Minute), End: clk.Now().Add(time.Minute)}
	sid, err := c.SendMessage(ctx, twilio.Message{From: "+15005550001", To: "+15005550006", Body: "db1 down"})
	if err != nil {
		t.Fatal(err)
	}
	csid, err := c.StartCall(ctx, twilio.Call{From: "+15005550001", To: "+15005550006", Twiml: "<Response/>"})
	if err != nil {
		t.Fatal(err)
	}
	mock.SetStatus(sid, "queued")
	mock.SetStatus(csid, "queued")
	if got, ok, err := c.FindMessage(ctx, "+15005550001", "+15005550006", "db1 down", w); err != nil || !ok || got != (twilio.Sent{SID: sid, Status: "queued"}) {
		t.Fatalf("queued message: FindMessage = %+v %v %v", got, ok, err)
	}
	if got, ok, err := c.FindCall(ctx, "+15005550001", "+15005550006", w); err != nil || !ok || got != (twilio.Sent{SID: csid, Status: "queued"}) {
		t.Fatalf("queued call: FindCall = %+v %v %v", got, ok, err)
	}
	for _, st := range []string{"undelivered", "failed", "canceled"} {
		mock.SetStatus(sid, st)
		if got, ok, err := c.FindMessage(ctx, "+15005550001", "+15005550006", "db1 down", w); err != nil || ok {
			t.Fatalf("%s message found: %+v %v", st, got, err)
		}
	}
	for _, st := range []string{"busy", "no-answer", "failed", "canceled"} {
		mock.SetStatus(csid, st)
		if got, ok, err := c.FindCall(ctx, "+15005550001", "+15005550006", w); err != nil || ok {
			t.Fatalf("%s call found: %+v %v", st, got, err)
		}
	}
}
