// Package console is the team's web console, served under /ui/ on the
// pager's own listener: server-rendered pages (html/template) for who is on
// call, alerts, voicemails, notification reports, the audit log and (for
// admins) the config and API keys. It acts through the same domain services
// as the SMS commands and never reads the store itself. Members sign in with
// a code texted to their phone (package signin); every change is audited
// with the member as actor.
package console
