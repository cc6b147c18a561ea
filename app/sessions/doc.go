// Package sessions keeps short confirmation windows (TAKE → C/X) in the
// store, keyed by the sender's number, so a reply reaches whichever replica
// Twilio picks and survives a restart — unlike the original's signed cookie.
package sessions
