//go:build race

package app_test

// raceEnabled: allocation budgets are not checked under the race detector.
const raceEnabled = true
