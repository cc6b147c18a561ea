package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/oncall/pager/app/twilio"
)

func TestIsPermanent(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"bad request", &twilio.Error{Status: 400}, true},
		{"unauthorized", &twilio.Error{Status: 401, Code: 20003}, true},
		{"not found", &twilio.Error{Status: 404, Code: 20404}, true},
		{"request timeout", &twilio.Error{Status: 408}, false},
		{"rate limited", &twilio.Error{Status: 429, Code: 20429}, false},
		{"server error", &twilio.Error{Status: 500, Code: 20500}, false},
		{"unavailable", &twilio.Error{Status: 503}, false},
		{"invalid To", &twilio.Error{Status: 400, Code: 21211}, true},
		{"unsubscribed", &twilio.Error{Status: 400, Code: 21610}, true},
		{"not mobile", &twilio.Error{Status: 400, Code: 21614}, true},
		{"known code whatever the status", &twilio.Error{Status: 500, Code: 21408}, true},
		{"known code, no status", &twilio.Error{Code: 21612}, true},
		{"21217", &twilio.Error{Status: 400, Code: 21217}, true},
		{"wrapped", fmt.Errorf("notify: %w", &twilio.Error{Status: 400, Code: 21610}), true},
		{"invalid request", fmt.Errorf("x: %w", twilio.ErrInvalidRequest), true},
		{"untrusted host", twilio.ErrUntrustedHost, true},
		{"deadline", context.DeadlineExceeded, false},
		{"canceled", fmt.Errorf("send: %w", context.Canceled), false},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false},
		{"unknown", errors.New("something"), false},
	}
	for _, tc := range cases {
		if got := twilio.IsPermanent(tc.err); got != tc.want {
			t.Errorf("%s: IsPermanent = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIsOptOut(t *testing.T) {
	if !twilio.IsOptOut(fmt.Errorf("x: %w", &twilio.Error{Status: 400, Code: 21610})) {
		t.Error("21610 not an opt-out")
	}
	for _, err := range []error{nil, &twilio.Error{Status: 400, Code: 21211}, errors.New("21610")} {
		if twilio.IsOptOut(err) {
			t.Errorf("%v taken for an opt-out", err)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	e := &twilio.Error{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"}
	if got, want := e.Error(), "twilio: HTTP 400, code 21610: Attempt to send to unsubscribed recipient"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
