package page

import (
	"strconv"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/twilio"
)

// PageDelivery is a page's Twilio status callback (or a refused send) in
// the alerts domain's words: the one place a page's delivery crosses from
// Twilio's vocabulary into the alert's. ch says whether cb is the page's
// text or its call.
func PageDelivery(ch alerts.Channel, userID string, cb twilio.StatusCallback) alerts.Delivery {
	cb.Kind = twilio.KindMessage
	if ch == alerts.ChannelVoice {
		cb.Kind = twilio.KindCall
	}
	o := cb.Outcome()
	d := alerts.Delivery{SID: cb.SID, UserID: userID, Channel: ch, Status: cb.Status, AnsweredBy: cb.AnsweredBy, Progress: o.Rank}
	d.ErrorCode, _ = strconv.Atoi(cb.ErrorCode)
	switch o.Answer {
	case twilio.AnswerPerson:
		d.Answer = alerts.AnswerPerson
	case twilio.AnswerMachine:
		d.Answer = alerts.AnswerMachine
	}
	switch {
	case o.OptedOut:
		d.Outcome = alerts.DeliveryOptedOut
	case o.Failed, o.Answer == twilio.AnswerMachine:
		d.Outcome = alerts.DeliveryNotReached
	case o.Reached:
		d.Outcome = alerts.DeliveryReached
	}
	return d
}
