// Package api is the RedFlash alert API: monitoring (Nagios, Zabbix, cron
// jobs) names a contact, group or event and the pager decides who is told
// and how, queueing the notification durably (a record and one job per
// recipient) before it answers (see notification.Service.Notify). It speaks
// RedFlash's dialect (redflash.go), so scripts written for it work
// unchanged, and takes Twilio's receipts of its texts and calls (/ack).
// The monitoring dialects (PagerDuty, Alertmanager, Grafana, generic) are
// app/intake.
package api
