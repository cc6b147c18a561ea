// Package twilio is the pager's way out to Twilio and the one place that
// speaks Twilio's words: sending SMS/MMS, starting calls, fetching and
// deleting recordings, checking the signatures on Twilio's webhooks, the
// webhook header names, and reading a message or call status callback into
// the pager's own Outcome (status.go). It wraps github.com/twilio/twilio-go
// so the rest of the app sees small value types and classified errors
// (IsPermanent, IsOptOut).
package twilio
