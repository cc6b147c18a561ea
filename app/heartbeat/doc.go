// Package heartbeat watches the watchers: jobs and monitors configured in
// the "heartbeats" section must call /heartbeat/<name> at least every
// "every"; when "every" plus "grace" pass without a beat, the heartbeat's
// summary is paged through the escalation policy as an alert (one dedup key
// per heartbeat), and the next beat closes it and tells whoever had
// acknowledged it. A heartbeat that never beat does not alert, so adding
// one to the config pages nobody until the job behind it has reported once.
//
// # Layout
//
//	heartbeats/<name>.json   the last beat (time, source, status), the deadline
//	                         a check job is armed for, and the open lateness
//
// # Timers
//
// Lateness is found by timer jobs on the app/jobs queue, one per deadline
// ("hb-<name>-<unix time>", due at the deadline), so several replicas and
// restarts neither lose nor repeat a check, and nothing scans beats. A beat
// is one conditional write of its record: it arms a new check job only when
// none is armed for an earlier deadline (the first beat, the first after a
// lateness, or a shortened interval). A check job that finds a later beat
// re-arms itself for that beat's deadline; one that finds none marks the
// record late and triggers the alert. The beat that ends a lateness queues,
// once it is stored, a recovery job that closes the alert and tells whoever
// acknowledged it; if that beat's process dies before, the next check finds
// the alert open for a heartbeat that beats and queues the recovery itself.
package heartbeat
