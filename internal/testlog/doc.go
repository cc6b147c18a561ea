// Package testlog is the tests' log sink: a buffer that the pager's
// goroutines write to while a test reads it.
package testlog
