// Package testclock is the one fake clock of the tests: time moves only when
// a test moves it (Advance, Set) or a sleeper sleeps on it (Sleep), so a
// test that says "five minutes later" never depends on how fast the machine
// runs. Pass Clock.Now wherever a package takes a func() time.Time.
package testclock
