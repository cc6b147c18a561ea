package twilio_test

import (
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
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
