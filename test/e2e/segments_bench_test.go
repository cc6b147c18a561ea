package e2e

import (
	"testing"
	"time"

	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/page"
	"github.com/oncall/pager/internal/harness"
	"github.com/oncall/pager/internal/testclock"
)

// BenchmarkSegments reports, for each text the pager composes, its length,
// encoding and SMS segments as sent through (the fake) Twilio: the
// voicemail page of a caller with a name and a city, the alert page, and
// the control number's replies. The time per op is counting segments.
func BenchmarkSegments(b *testing.B) {
	clock := testclock.New()
	h := harness.New(b, harness.Options{Config: pagingConfig(), Now: clock.Now, Lease: 5 * time.Minute})
	alice := h.Phone(harness.Alice)

	call := h.Call("+12125550123").SetParam("CallerName", "ACME CORPORATION").SetParam("FromCity", "SAN FRANCISCO").SetParam("FromState", "CA")
	call.Expect("Press 1").Press("1").Expect("after the tone")
	call.Record(fakeMP3(), 42)
	voicemail := alice.ExpectSMS("voicemail").Body
	alice.ExpectCall("voicemail")

	texts := []struct{ name, body string }{
		{"voicemail_page", voicemail},
		{"alert_page", page.Text("12", "Database db-primary-1 is down: connection refused on port 5432")},
		{"who", alice.Text("WHO").Bodies[0]},
		{"halp", alice.Text("HALP").Bodies[0]},
		{"take", alice.Text("TAKE").Bodies[0]},
		{"wrong_number", alice.TextTo("/wrongnumber/sms", h.Config().CurrentConfig.PagerPhone, "hello").Bodies[0]},
	}
	for _, tc := range texts {
		b.Run(tc.name, func(b *testing.B) {
			var n int
			var enc outbound.Encoding
			for b.Loop() {
				n, enc = outbound.SegmentsOf(tc.body)
			}
			gsm := 0.0
			if enc == outbound.GSM7 {
				gsm = 1
			}
			b.ReportMetric(float64(n), "segments")
			b.ReportMetric(float64(len([]rune(tc.body))), "chars")
			b.ReportMetric(gsm, "gsm7")
		})
	}
}
