// Package twiml builds the TwiML documents the pager answers Twilio with.
// Documents are plain data (a slice of verbs) rendered through twilio-go's
// TwiML writer, so handlers stay declarative and tests can parse a reply back
// into verbs instead of matching XML strings.
package twiml
