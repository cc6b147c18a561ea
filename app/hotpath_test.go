package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oncall/pager/internal/testlog"

	"github.com/oncall/pager/store/local"
)

// The team texts answered from memory (WHO, HALP, the wrong-number
// reply) make no store call, log exactly one line that says what they did,
// and stay within their allocation budget (issue 10: at most 80 per WHO).
func TestHotWebhooksBudget(t *testing.T) {
	dir, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: dir}
	var logs testlog.Buffer
	a := benchAppLog(t, cs, slog.New(slog.NewJSONHandler(&logs, nil)))
	const member, control, pager = "+15555550101", "+15555550100", "+15555550199"
	cases := []struct {
		name, path, body, to, want, outcome string
		maxAllocs                           float64
	}{
		{"who", "/msgcontrol/entry", "WHO", control, "On call", "who", 35},
		{"halp", "/msgcontrol/entry", "HALP", control, "Text WHO", "help", 35},
		{"wrongnumber", "/wrongnumber/sms", "hello", pager, "only takes calls", "wrong_number", 35},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := prepare(t, tc.path, twilioSMSForm(member, tc.to, tc.body))
			before := cs.n.Load()
			mark := len(logs.Lines())
			code, out := p.serve(a.Echo)
			if code != http.StatusOK || !bytes.Contains(out, []byte(tc.want)) {
				t.Fatalf("%d %s", code, out)
			}
			if n := cs.n.Load() - before; n != 0 {
				t.Errorf("%d store calls, want none", n)
			}
			lines := logs.Lines()[mark:]
			if len(lines) != 1 {
				t.Fatalf("want one log line, got %q", lines)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
				t.Fatal(err)
			}
			if line["outcome"] != tc.outcome || line["path"] != tc.path {
				t.Errorf("access line = %v, want outcome %q", line, tc.outcome)
			}
			if raceEnabled {
				return // the race detector allocates on its own account
			}
			if n := testing.AllocsPerRun(50, func() { p.serve(a.Echo) }); n > tc.maxAllocs {
				t.Errorf("%v allocations per request, want at most %v", n, tc.maxAllocs)
			}
		})
	}
}

// The recording callback answers once the voicemail job is durable, in at
// most three store calls (on S3, three requests): everything else, the
// alert included, is a step of that job. A repeated callback changes
// nothing.
func TestRecordingCallbackStoreCalls(t *testing.T) {
	dir, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: dir}
	a := benchApp(t, cs)
	sid := "RE" + strings.Repeat("ab", 16)
	form := url.Values{
		"AccountSid": {"AC" + benchToken}, "CallSid": {"CA" + strings.Repeat("cd", 16)}, "RecordingSid": {sid},
		"RecordingUrl":    {"https://api.twilio.com/2010-04-01/Accounts/AC" + benchToken + "/Recordings/" + sid},
		"RecordingStatus": {"completed"}, "RecordingDuration": {"12"},
	}
	p := prepare(t, "/public/recordingcb?caller_num=%2B12125550123", form)
	for i, what := range []string{"first", "repeat"} {
		before := cs.n.Load()
		if code, out := p.serve(a.Echo); code != http.StatusNoContent {
			t.Fatalf("%s: %d %s", what, code, out)
		}
		if n := cs.n.Load() - before; n > 3 {
			t.Errorf("%s callback: %d store calls before answering, want at most 3", what, n)
		}
		job, err := a.Jobs.Get(context.Background(), "vm-"+sid)
		if err != nil {
			t.Fatalf("%s: voicemail job not durable when answered: %v", what, err)
		}
		if len(job.Steps) == 0 || job.Steps[0].Name != "alert" || job.Version != 1 {
			t.Errorf("%s: job steps %+v version %d: want the alert as first step, job unchanged", what, job.Steps, job.Version)
		}
		if i == 0 {
			if _, err := a.Alerts.ByDedupKey(context.Background(), "pagerline", "vm-"+sid); err == nil {
				t.Error("alert raised inside the callback; it belongs to the job")
			}
		}
	}
}
