//go:build race

package twilio_test

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation ceilings are not checked under it.
const raceEnabled = true
