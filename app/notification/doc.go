// Package notification is RedFlash notifications: an accepted alert is
// planned as one durable job per recipient and one step per route (see
// Service.Notify), each step delivered over the outbound path and retried
// on its own; Twilio's delivery status callbacks (/ack) update the step
// (RecordStatus); GetNotification reports on it. Template fills an event's
// message with the request's fields. Who is reached and by which routes is
// resolved from the team config (ResolveEvent, in routing.go).
package notification
