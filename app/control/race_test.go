//go:build race

package control_test

// raceEnabled: allocation budgets are not checked under the race detector.
const raceEnabled = true
