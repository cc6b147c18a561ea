// Package channel delivers one notification through one outbound channel:
// email, a signed webhook, Pushover, Mattermost, Slack or Signal.
//
// Each sender is a small struct configured once and safe for concurrent use.
// Send either returns a Receipt (the peer accepted the message) or an error
// that IsPermanent classifies, so the caller can decide between retrying the
// same channel later and giving up on it (for instance, escalating through
// another channel).
package channel
