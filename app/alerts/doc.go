// Package alerts is the alert lifecycle: every voicemail, paging event and
// intake event becomes an Alert (triggered → acknowledged → closed) kept in
// the store, with a short reply code, a dedup index, and an escalation that
// pages the policy's steps on time until someone acknowledges — across
// restarts and several replicas.
//
// Whatever dialect a monitoring tool speaks (app/intake), it arrives here
// as one normalized Event (event.go) to trigger, acknowledge or resolve.
//
// # Layout
//
// Under Options.Prefix (default "alerts/"):
//
//	open/<id>.json       an alert that is triggered or acknowledged
//	closed/<id>.json     a closed alert (moved here by Close)
//	dedup/<hash>.json    routing key + dedup key → open alert id
//	codes/<code>.json    reply code → open alert id
//	paged/<user>.json    the alerts last paged to a user (ACK without a code)
//	throttle/<user>.json a user's recent pages and the pages bundled for later
//
// Escalations and bundled-page digests are jobs (app/jobs) on the queue
// given in Options: timers live in the store, so a restart or a second
// replica neither loses nor repeats a step.
//
// # Coordination
//
// There are no locks; every shared object is written conditionally. The
// dedup index and reply codes are created with If-None-Match, so of two
// replicas triggering the same problem, or taking the same free code, one
// wins and the other adopts its result. An alert changes only by
// read-modify-write with If-Match, and its state only moves forward, so an
// acknowledgement racing a close, or a late delivery callback, can never
// reopen it.
//
// # Crash safety
//
// Trigger writes the dedup index before the alert; a reader that finds an
// index without its alert creates the alert itself from its own event, so a
// crash between the two loses nothing. A trigger for an open alert
// completes anything the first trigger left undone (reply code, escalation
// job). Close is idempotent and finishes a half-done close when repeated;
// Sweep does the same for any left behind.
package alerts
