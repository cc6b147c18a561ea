// Package harness runs a whole pager in a test against real peers — S3 over
// the S3 protocol, a fake Twilio API that validates against Twilio's spec and
// signs its webhooks, a real SMTP server — so a test reads like a phone
// conversation:
//
//	alice := h.Phone("+15555550101")
//	alice.Text("TAKE").Expect("reply C")
//	alice.Text("C").Expect("on call now")
//	h.Phone(bob).ExpectSMS("no longer on call")
package harness
