package twilio

import (
	"errors"
	"fmt"

	"github.com/twilio/twilio-go/client"
)

// ErrInvalidRequest marks a request rejected before anything was sent (a
// missing To, both Twiml and URL, …). Retrying it cannot succeed.
var ErrInvalidRequest = errors.New("twilio: invalid request")

// ErrUntrustedHost is returned by FetchRecording for a URL whose host is not
// Twilio's API (or the configured BaseURL): sending our account credentials
// there would leak them.
var ErrUntrustedHost = errors.New("twilio: refusing to send credentials to untrusted host")

// Error is a failed Twilio REST API call, as described by Twilio's JSON error
// body ({"code":21610,"message":"…","more_info":"…","status":400}).
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is Twilio's error code (https://www.twilio.com/docs/api/errors); 0
	// when the body carried none (e.g. a proxy's HTML error page).
	Code     int
	Message  string
	MoreInfo string
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("twilio: HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("twilio: HTTP %d, code %d: %s", e.Status, e.Code, e.Message)
}

// Twilio error codes this package gives meaning to.
const (
	CodeInvalidTo         = 21211 // 'To' number is not a valid phone number
	CodeToNotAllowed      = 21217 // phone number does not appear to be valid
	CodePermissionDenied  = 21408 // permission to send to this region not enabled
	CodeUnsubscribed      = 21610 // recipient replied STOP; Twilio will not deliver
	CodeFromNotReachable  = 21612 // 'To' is not reachable from this 'From'
	CodeToNotMobileNumber = 21614 // 'To' is not a mobile number (SMS)
)

// permanentCodes fail the same way however often they are retried, whatever
// HTTP status accompanies them.
var permanentCodes = map[int]bool{
	CodeInvalidTo:         true,
	CodeToNotAllowed:      true,
	CodePermissionDenied:  true,
	CodeUnsubscribed:      true,
	CodeFromNotReachable:  true,
	CodeToNotMobileNumber: true,
}

// IsPermanent reports whether retrying err is pointless: Twilio rejected the
// request itself (4xx other than 408 and 429, or a known permanent error
// code), it was invalid before it was sent, or it asked for something we
// refuse (an untrusted host, an oversized recording). Server errors, rate limits,
// timeouts and network failures are temporary.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrUntrustedHost) || errors.Is(err, ErrRecordingTooLarge) {
		return true
	}
	var te *Error
	if !errors.As(err, &te) {
		return false
	}
	if permanentCodes[te.Code] {
		return true
	}
	switch te.Status {
	case 408, 429:
		return false
	}
	return te.Status >= 400 && te.Status < 500
}

// IsOptOut reports whether err says the recipient has opted out (replied
// STOP) of messages from this sender; they must opt back in (START) first.
func IsOptOut(err error) bool {
	var te *Error
	return errors.As(err, &te) && te.Code == CodeUnsubscribed
}

// convertError turns what twilio-go returned into an *Error where possible.
// httpStatus is the status of the last response seen on the wire (0 if
// none): twilio-go loses it when the error body is not JSON.
func convertError(op string, err error, httpStatus int) error {
	var restErr *client.TwilioRestError
	if errors.As(err, &restErr) {
		status := restErr.Status
		if status == 0 {
			status = httpStatus
		}
		return fmt.Errorf("%s: %w", op, &Error{Status: status, Code: restErr.Code, Message: restErr.Message, MoreInfo: restErr.MoreInfo})
	}
	var v1Err *client.RestErrorV1
	if errors.As(err, &v1Err) {
		status := v1Err.HttpStatusCode
		if status == 0 {
			status = httpStatus
		}
		return fmt.Errorf("%s: %w", op, &Error{Status: status, Code: v1Err.Code, Message: v1Err.Message})
	}
	if httpStatus >= 400 {
		// An error response twilio-go could not decode (a load balancer's
		// HTML page, say): keep the status so retry decisions still work.
		return fmt.Errorf("%s: %w", op, &Error{Status: httpStatus, Message: err.Error()})
	}
	return fmt.Errorf("%s: %w", op, err)
}
