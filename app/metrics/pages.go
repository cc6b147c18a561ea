package metrics

import (
	"context"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/page"
	"github.com/oncall/pager/app/twilio"
)

// PageSender wraps the outbound path as alert pages use it, counting pages
// handed to Twilio and pages Twilio refused for good. A page is a text or
// call that asks for delivery receipts (a status callback): the "taken by"
// notices sent over the same path ask for none and are not pages.
func (m *Metrics) PageSender(out page.Sender) page.Sender { return pageSender{out: out, m: m} }

type pageSender struct {
	out page.Sender
	m   *Metrics
}

func (s pageSender) SendText(ctx context.Context, t outbound.Text) (string, error) {
	sid, err := s.out.SendText(ctx, t)
	if t.StatusCallback != "" {
		s.count(string(alerts.ChannelSMS), err)
	}
	return sid, err
}

func (s pageSender) StartCall(ctx context.Context, c outbound.Call) (string, error) {
	sid, err := s.out.StartCall(ctx, c)
	if c.StatusCallback != "" {
		s.count(string(alerts.ChannelVoice), err)
	}
	return sid, err
}

// count: a temporary failure is retried, so it is neither sent nor failed
// yet (the Twilio API error counter has it).
func (s pageSender) count(channel string, err error) {
	switch {
	case err == nil:
		s.m.Page(channel, Sent)
	case twilio.IsPermanent(err) || twilio.IsOptOut(err):
		s.m.Page(channel, Failed)
	}
}

// PageCallbacks wraps the alerts as the page callbacks use them, counting
// the pages a delivery receipt settles: delivered when a person got it,
// failed when it did not reach them.
func (m *Metrics) PageCallbacks(a page.Alerts) page.Alerts { return pageCallbacks{Alerts: a, m: m} }

type pageCallbacks struct {
	page.Alerts
	m *Metrics
}

func (p pageCallbacks) RecordDelivery(ctx context.Context, alertID string, d alerts.Delivery) (alerts.DeliveryUpdate, error) {
	up, err := p.Alerts.RecordDelivery(ctx, alertID, d)
	if err == nil && up.Decided {
		switch up.Delivery.Outcome {
		case alerts.DeliveryReached:
			p.m.Page(string(up.Delivery.Channel), Delivered)
		case alerts.DeliveryNotReached, alerts.DeliveryOptedOut:
			p.m.Page(string(up.Delivery.Channel), Failed)
		}
	}
	return up, err
}
