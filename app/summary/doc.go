// Package summary sends the optional daily summary: at a set local time the
// on-call engineer gets a short GSM-7 text (at most two SMS segments) of
// the open alerts, what fired in the last 24 hours and the heartbeats in
// trouble, and the team an email with the same and more.
//
// Each day's summary is a job on the app/jobs queue ("sum-<local date>-<HHMM>",
// due at the time), so with several replicas it is sent once, and a
// restart does not lose it. Its last step queues the next day's; at
// start-up and when the configured time changes, the next one is queued
// too (the job id makes that idempotent). A job whose time is no longer the
// configured one does nothing.
package summary
