//go:build !race

package twilio_test

const raceEnabled = false
