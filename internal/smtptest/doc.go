// Package smtptest runs a real SMTP server on loopback for tests.
//
// It speaks the protocol through github.com/emersion/go-smtp, so clients are
// exercised against genuine greetings, EHLO capabilities, STARTTLS, AUTH and
// DATA handling rather than a mock. Accepted messages are recorded and parsed
// (subject, text body, attachments) so tests can assert what a recipient would
// actually see.
package smtptest
