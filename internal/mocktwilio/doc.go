// Package mocktwilio is a fake Twilio REST API for tests: it accepts the
// requests the pager makes (Messages.json, Calls.json, recordings), records
// them, answers like Twilio, fails on demand, checks every request against
// Twilio's published OpenAPI description, and signs webhooks it sends to the
// app under test exactly as Twilio does.
package mocktwilio
