// Package jobs runs durable multi-step jobs over the blob store, so an
// accepted voicemail or alert survives crashes, restarts, store outages and
// several replicas working at once.
//
// # Layout
//
// Each job is one JSON object: <prefix>active/<id>.json while it has work
// left, <prefix>done/<id>.json once every step is done or failed.
// Objects that cannot be parsed are moved to <prefix>corrupt/ and logged at
// error level. IDs come from the caller, derived from a natural key
// ("vm-<RecordingSid>"), so a duplicate webhook maps to the same job and
// Enqueue reports it as a duplicate instead of running it twice.
//
// # Coordination
//
// All coordination is by conditional writes; there is no other lock. A
// runner claims a job by writing a Lease (owner, until) with If-Match on the
// version it read, so of several replicas exactly one wins; it renews the
// lease while steps run and records each step's outcome with another
// conditional write, merging with whatever changed meanwhile (outcomes are
// per step). The write that records the last outcome also seals the job
// (FinishedAt); the sealing runner then writes done/ and only then deletes
// active/. Enqueue checks done/, creates active/ with If-None-Match, and
// checks done/ again, so it cannot recreate a job that finished in between.
// Leases are judged by the runners' clocks, which must agree to well within
// Options.Lease.
//
// # Delivery guarantee
//
// Steps run at least once. A step runs again if its runner crashes or is
// cut off before the outcome is stored (the lease expires and another
// replica, or the restarted process under a new Owner, takes the job over
// and re-runs only steps not recorded done), or if an outcome cannot be
// recorded before the lease is lost. Under normal operation, including
// outages shorter than the lease, each step runs once. A step that a
// graceful shutdown cuts short is handled as a crash is: the lease is kept
// to expire, so the next runner is told it took the job over (Job.TakenOver,
// TakenFrom) and looks for the step's earlier effect. Running(ctx) names the
// job and step a handler's callees run in, for the outbound path's lookups.
//
// Handlers should therefore be idempotent: derive external identifiers from
// the job and step (e.g. an idempotency key "<job id>/<step>" for a provider
// that supports one, or a deterministic object key for an upload), check for
// an earlier effect before repeating it where the provider allows (look up
// the message sent for this job before sending), and keep each step to one
// external side effect so a retry repeats as little as possible. The step's
// previous Result and LastError are visible to the handler on a retry.
package jobs
