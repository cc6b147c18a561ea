// Package server holds the pager's route table and HTTP middleware: every
// route the pager answers is listed in New, in server.go. Webhook
// de-duplication (act once per Twilio retry) is idempotency.go.
package server
