// Package handover makes the schedule take effect by itself: at each
// boundary it writes the new on-call into the stored config (so the JSON in
// the store always names who is on call), audits it and texts the incoming
// and outgoing members, and it reminds members before their shift. Each
// boundary and each reminder is a timer job in the store whose id derives
// from the boundary, so it happens once with several replicas and is not
// lost in a restart: a pager that was down applies it late, and says so.
// When the schedule does not decide the moment, it also tells both people
// when a write of the whole config (config push, a console save) changed
// who is on call.
package handover
