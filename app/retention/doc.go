// Package retention removes what the pager no longer needs from the store,
// by a policy per kind (finished jobs, free dedup slots, closed alerts,
// notifications, audit entries, recordings), so the store and every scan of
// it stay bounded however long the pager runs.
package retention
