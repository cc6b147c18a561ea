// Package retention removes what the pager no longer needs from the store,
// by a policy per kind (finished jobs, free dedup slots, closed alerts,
// notifications, audit entries, recordings) and, for short-lived records
// (Idempotency-Keys, webhook delivery markers), by the lifetime their
// writer gives them, so the store and every scan of it stay bounded however
// long the pager runs.
package retention
