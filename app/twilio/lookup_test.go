package twilio_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
)

func TestListRecordingsFollowsPagesAndFetchesMedia(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	call := mock.AddInboundCall("", "+15555550123", "+15555550199")
	want := map[string]bool{}
	for i := range 130 { // more than one page of 100
		sid, _ := mock.AddRecordingFor(call, []byte{byte(i)}, i)
		want[sid] = true
	}
	got, err := c.ListRecordings(t.Context(), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d recordings, want %d", len(got), len(want))
	}
	for _, r := range got {
		if !want[r.SID] || r.CallSID != call || r.Status != "completed" || r.Source != "RecordVerb" || r.DateCreated.IsZero() {
			t.Errorf("recording %+v", r)
		}
		delete(want, r.SID)
	}
	data, _, err := c.FetchRecording(t.Context(), got[5].URL)
	if err != nil || len(data) != 1 || int(data[0]) != got[5].Duration {
		t.Errorf("media of %+v: %v %v", got[5], data, err)
	}
	pages := 0
	for _, r := range mock.Requests() {
		if r.Method == "GET" && bytes.HasSuffix([]byte(r.Path), []byte("/Recordings.json")) {
			pages++
		}
	}
	if pages != 2 {
		t.Errorf("%d list requests, want 2 pages", pages)
	}
}

func TestListRecordingsSinceSkipsOlder(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	mock.AddRecording("", []byte("x"))
	got, err := c.ListRecordings(t.Context(), time.Now().Add(time.Hour))
	if err != nil || len(got) != 0 {
		t.Errorf("got %+v, %v; want nothing newer than an hour ahead", got, err)
	}
}

func TestFetchCall(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	sid := mock.AddInboundCall("", "+15555550123", "+15555550199")
	got, err := c.FetchCall(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	if got.SID != sid || got.From != "+15555550123" || got.To != "+15555550199" || got.Direction != "inbound" {
		t.Errorf("call %+v", got)
	}
	_, err = c.FetchCall(t.Context(), "CA0123456789abcdef0123456789abcdef")
	var te *twilio.Error
	if !errors.As(err, &te) || te.Status != 404 {
		t.Errorf("unknown call: %v, want a 404", err)
	}
	if _, err := c.FetchCall(t.Context(), "nope"); !errors.Is(err, twilio.ErrInvalidRequest) {
		t.Errorf("bad SID: %v", err)
	}
}

func TestLookupsDryRun(t *testing.T) {
	c, err := twilio.New(twilio.Config{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := c.ListRecordings(t.Context(), time.Time{}); err != nil || recs != nil {
		t.Errorf("dry run listed %v, %v", recs, err)
	}
	if ci, err := c.FetchCall(t.Context(), "CA0123456789abcdef0123456789abcdef"); err != nil || ci != (twilio.CallInfo{}) {
		t.Errorf("dry run fetched %+v, %v", ci, err)
	}
}
