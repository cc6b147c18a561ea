// Package intaketest is test support for the intake dialects: their
// fixtures, the contract every parser keeps (fuzzed), and a check for one
// problem in a *intake.ValidationError.
package intaketest
