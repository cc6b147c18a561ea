package twilio

import (
	"context"
	"errors"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// Machine detection modes for Call.MachineDetection.
const (
	// MachineDetectionEnable returns as soon as a human or machine is
	// recognised.
	MachineDetectionEnable = "Enable"
	// MachineDetectionMessageEnd waits for the end of a voicemail greeting,
	// so a message left after it is recorded whole.
	MachineDetectionMessageEnd = "DetectMessageEnd"
)

// Call is one outgoing phone call. Exactly one of Twiml and URL says what
// happens once it is answered.
type Call struct {
	From string
	To   string
	// Twiml is an inline TwiML document, e.g. `<Response><Say>…</Say></Response>`.
	Twiml string
	// URL is fetched by Twilio for TwiML when the call connects.
	URL string
	// StatusCallback, if set, receives the events in StatusCallbackEvents
	// (initiated, ringing, answered, completed); Twilio's default is
	// completed only.
	StatusCallback       string
	StatusCallbackEvents []string
	// MachineDetection is "", MachineDetectionEnable or
	// MachineDetectionMessageEnd.
	MachineDetection string
	// Timeout is how many seconds to let it ring; 0 leaves Twilio's default
	// (60).
	Timeout int
}

func (cl Call) check() error {
	switch {
	case cl.To == "":
		return invalidf("call has no To")
	case cl.From == "":
		return invalidf("call has no From")
	case cl.Twiml == "" && cl.URL == "":
		return invalidf("call has neither Twiml nor URL")
	case cl.Twiml != "" && cl.URL != "":
		return invalidf("call has both Twiml and URL")
	case cl.Timeout < 0:
		return invalidf("call timeout %d is negative", cl.Timeout)
	case len(cl.StatusCallbackEvents) > 0 && cl.StatusCallback == "":
		return invalidf("call has status callback events but no StatusCallback")
	}
	switch cl.MachineDetection {
	case "", MachineDetectionEnable, MachineDetectionMessageEnd:
	default:
		return invalidf("unknown machine detection mode %q", cl.MachineDetection)
	}
	return nil
}

// StartCall asks Twilio to place cl and returns the Call SID. Progress is
// reported to cl.StatusCallback.
func (c *Client) StartCall(ctx context.Context, cl Call) (sid string, err error) {
	if err := cl.check(); err != nil {
		return "", err
	}
	if c.dryRun {
		sid = fakeSID("CA")
		c.log.InfoContext(ctx, "twilio dry run: call not placed",
			"sid", sid, "to", cl.To, "from", cl.From,
			"twiml", cl.Twiml, "url", cl.URL,
			"machine_detection", cl.MachineDetection)
		return sid, nil
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	params := &api.CreateCallParams{}
	params.SetTo(cl.To)
	params.SetFrom(cl.From)
	if cl.Twiml != "" {
		params.SetTwiml(cl.Twiml)
	} else {
		params.SetUrl(cl.URL)
	}
	if cl.StatusCallback != "" {
		params.SetStatusCallback(cl.StatusCallback)
	}
	if len(cl.StatusCallbackEvents) > 0 {
		params.SetStatusCallbackEvent(cl.StatusCallbackEvents)
	}
	if cl.MachineDetection != "" {
		params.SetMachineDetection(cl.MachineDetection)
	}
	if cl.Timeout > 0 {
		params.SetTimeout(cl.Timeout)
	}
	call := c.newAPICall(ctx)
	resp, err := call.svc.CreateCall(params)
	if err != nil {
		return "", convertError("twilio: start call", err, call.ct.status)
	}
	if resp.Sid == nil || *resp.Sid == "" {
		return "", errors.New("twilio: start call: response carried no sid")
	}
	c.log.DebugContext(ctx, "twilio call queued", "sid", *resp.Sid)
	return *resp.Sid, nil
}
