// Package keygate is the one check of an API key that every route taking
// one makes — the RedFlash API, the monitoring intake (webhooks and
// PagerDuty's Events API) and heartbeats: no config loaded yet, the
// README's example key on a listener other machines reach, an unknown or
// disabled key, and the key's budget (rate_limit_per_minute, one budget
// per key over every route). A refused request is recorded (OnRefuse) with
// a fixed reason and, over the budget, answered with Retry-After; each
// route wraps the Verdict in its own dialect's answer.
package keygate
