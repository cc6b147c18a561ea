package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app"
	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/store/local"
)

const (
	benchToken = "0123456789abcdef0123456789abcdef"
	benchBase  = "https://pager.example.test"
)

func benchApp(b *testing.B) *app.App {
	b.Helper()
	st, err := local.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s := app.Settings{
		ListenAddr:       "127.0.0.1:0",
		BaseURL:          benchBase,
		TwilioAccountSID: "AC" + benchToken,
		TwilioAuthToken:  benchToken,
		TwilioAPIBaseURL: "http://127.0.0.1:1", // never called by these paths
	}
	a, err := app.New(context.Background(), s, app.Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	a.Echo.POST("/bare", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	return a
}

func signed(path string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, twilio.Sign(benchToken, benchBase+path, form))
	return req
}

func smsForm(body string) url.Values {
	return url.Values{
		"AccountSid": {"AC" + benchToken}, "ApiVersion": {"2010-04-01"}, "Body": {body},
		"From": {"+15555550101"}, "To": {"+15555550100"}, "MessageSid": {"SM" + benchToken}, "NumMedia": {"0"},
	}
}

// BenchmarkWebhook compares the WHO webhook (signature check, form parse,
// config lookup, TwiML reply) with a bare echo route in the same server.
func BenchmarkWebhook(b *testing.B) {
	a := benchApp(b)
	form := smsForm("WHO")
	b.Run("who", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			a.Echo.ServeHTTP(rec, signed("/msgcontrol/entry", form))
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "On call") {
				b.Fatalf("WHO: %d %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			a.Echo.ServeHTTP(rec, signed("/bare", form))
			if rec.Code != http.StatusOK {
				b.Fatalf("bare: %d", rec.Code)
			}
		}
	})
}

// BenchmarkRecordingCallback is the recording status callback's answer
// time: signature, job durably written to the local folder store, 204.
func BenchmarkRecordingCallback(b *testing.B) {
	a := benchApp(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		sid := fmt.Sprintf("RE%032x", i)
		form := url.Values{
			"AccountSid": {"AC" + benchToken}, "CallSid": {fmt.Sprintf("CA%032x", i)}, "RecordingSid": {sid},
			"RecordingUrl":    {"https://api.twilio.com/2010-04-01/Accounts/AC" + benchToken + "/Recordings/" + sid},
			"RecordingStatus": {"completed"}, "RecordingDuration": {"12"},
		}
		rec := httptest.NewRecorder()
		a.Echo.ServeHTTP(rec, signed("/public/recordingcb?caller_num=%2B12125550123", form))
		if rec.Code != http.StatusNoContent {
			b.Fatalf("recordingcb: %d %s", rec.Code, rec.Body)
		}
	}
}
