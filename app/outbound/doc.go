// Package outbound is the pager's one outbound path: every text, call and
// email the pager sends (a voicemail page, an alert page, a RedFlash
// notification, a hand-over notice) goes through Outbound, which sends at
// Twilio's rates (per sender number for texts, per account for calls),
// counts GSM-7 segments, masks addresses for reports and classifies
// failures so the durable jobs that call it know whether to retry. The
// channel senders (email, webhooks, chat) are in package channel.
package outbound
