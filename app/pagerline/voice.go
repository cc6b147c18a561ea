package pagerline

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/twiml"
)

// DefaultGreeting is said when the config has no greeting.
const DefaultGreeting = "You have reached the on-call engineer."

// callerFields travel from the call to the recording callback in its query
// string, because the recording callback itself does not carry them.
var callerFields = []struct{ form, query string }{
	{"From", "caller_num"},
	{"CallerName", "caller_name"},
	{"FromCity", "caller_city"},
	{"FromState", "caller_state"},
	{"CallSid", "call_sid"},
}

func (h *Handler) voice(c echo.Context, verbs ...twiml.Verb) error {
	return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(twiml.Voice(verbs...)))
}

// greeting is the configured greeting as a whole sentence, so the prompt
// that follows it is read as a sentence of its own.
func greeting(cfg *team.Config) string {
	g := strings.TrimSpace(cfg.CurrentConfig.Greeting)
	if g == "" {
		return DefaultGreeting
	}
	if !strings.ContainsAny(g[len(g)-1:], ".!?") {
		g += "."
	}
	return g
}

func (h *Handler) gather(attempt int, prompt string) twiml.Gather {
	return twiml.Gather{
		Action:              h.base + "/public/keypress?attempt=" + strconv.Itoa(attempt),
		NumDigits:           1,
		Timeout:             10,
		ActionOnEmptyResult: true,
		Prompt:              []twiml.Verb{twiml.Say{Text: prompt}},
	}
}

// ServeAnswer is POST /public/answer, the pager line's voice webhook.
func (h *Handler) ServeAnswer(c echo.Context) error {
	cfg := h.cfg.Current()
	h.log.InfoContext(c.Request().Context(), "pagerline: call", "call_sid", c.FormValue("CallSid"), "from", c.FormValue("From"))
	if cfg.CurrentConfig.RecordWithoutKeypress {
		return h.voice(c, append([]twiml.Verb{twiml.Say{Text: greeting(cfg)}}, h.record(c, cfg)...)...)
	}
	return h.voice(c, h.gather(1, greeting(cfg)+" Press 1 to leave a message for the on-call engineer."))
}

// ServeKeypress is POST /public/keypress: 1 records; nothing pressed asks
// once more; any other key says goodbye.
func (h *Handler) ServeKeypress(c echo.Context) error {
	cfg := h.cfg.Current()
	switch d := c.FormValue("Digits"); {
	case d == "1":
		return h.voice(c, h.record(c, cfg)...)
	case d == "" && c.QueryParam("attempt") == "1":
		return h.voice(c, h.gather(2, "Sorry, I did not hear a key. Press 1 to leave a message for the on-call engineer."))
	default:
		return h.voice(c, twiml.Say{Text: "Goodbye."}, twiml.Hangup{})
	}
}

func (h *Handler) record(c echo.Context, cfg *team.Config) []twiml.Verb {
	q := url.Values{}
	for _, f := range callerFields {
		// Twilio leaves out what it does not know (CallerName usually):
		// absent stays absent, never an error.
		if v := c.FormValue(f.form); v != "" {
			q.Set(f.query, v)
		}
	}
	max := cfg.CurrentConfig.MaxRecordSeconds
	if max <= 0 {
		max = 300
	}
	return []twiml.Verb{
		twiml.Say{Text: fmt.Sprintf("Please leave your message after the tone. You have up to %s. Press pound or hang up when you are done.", minutes(max))},
		twiml.Record{
			Action:                       h.base + "/public/afterrec",
			MaxLength:                    max,
			Timeout:                      10,
			FinishOnKey:                  "#",
			PlayBeep:                     true,
			RecordingStatusCallback:      h.base + "/public/recordingcb?" + q.Encode(),
			RecordingStatusCallbackEvent: "completed absent",
		},
	}
}

func minutes(sec int) string {
	if sec%60 == 0 {
		if sec == 60 {
			return "1 minute"
		}
		return strconv.Itoa(sec/60) + " minutes"
	}
	return strconv.Itoa(sec) + " seconds"
}

// ServeAfterRecord is POST /public/afterrec, Record's action.
func (h *Handler) ServeAfterRecord(c echo.Context) error {
	n, _ := strconv.Atoi(c.FormValue("RecordingDuration"))
	if n <= 0 {
		return h.voice(c, twiml.Say{Text: "I did not get a message. Goodbye."}, twiml.Hangup{})
	}
	return h.voice(c,
		twiml.Say{Text: fmt.Sprintf("Thank you. I am delivering your %d-second message to the on-call engineer now. You will get a call back as soon as possible. Goodbye.", n)},
		twiml.Hangup{})
}
