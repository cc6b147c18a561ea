package control

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/server"
	"github.com/oncall/pager/twiml"
)

// ServeWrongNumberSMS is POST /wrongnumber/sms: a text to the voice-only
// pager line. A known member is pointed at the control number; strangers get
// nothing, as on the control line.
func (h *Handler) ServeWrongNumberSMS(c echo.Context) error {
	cfg := h.cfg.Current()
	from := c.FormValue("From")
	u, ok := cfg.UserByPhone(from)
	if !ok || !u.IsEnabled() {
		server.SetOutcome(c, server.Outcome{What: "unknown_sender", Ref: from})
		return writeMessaging(c)
	}
	server.SetOutcome(c, server.Outcome{What: "wrong_number", Actor: u.ID})
	return writeMessaging(c, "Hi "+u.Name+". This number only takes calls. To text the pager, use "+cfg.CurrentConfig.FromPhone+".")
}

// ServeWrongNumberVoice is POST /wrongnumber/voice: a call to the text-only
// control line.
func (h *Handler) ServeWrongNumberVoice(c echo.Context) error {
	cfg := h.cfg.Current()
	say := "This number does not take calls."
	if p := cfg.CurrentConfig.PagerPhone; p != "" {
		say += " To reach the on-call engineer, call " + outbound.PhoneWords(p) + "."
	}
	return c.Blob(http.StatusOK, "text/xml; charset=utf-8", []byte(twiml.Voice(twiml.Say{Text: say}, twiml.Hangup{})))
}
