// Package app wires the pager's subsystems together: it builds the store,
// the team config, the Twilio client and the HTTP faces from Settings, and
// runs them until the context ends.
package app
