// Package schedule computes who is on call from rotations and overrides:
// at a moment, over the coming shifts, for one member, and when the answer
// next changes. It is pure computation over wall-clock times in one IANA
// zone (no store, no clock of its own), cheap enough for the WHO hot path.
package schedule
