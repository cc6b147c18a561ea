// Package teamtest is the tests' one default team config (three members,
// alice on call) with small patches for what a test needs on top, so a test
// states only what it changes:
//
//	cfg := teamtest.Default(
//		teamtest.OnCall("bob"),
//		teamtest.Set("current_config.greeting", "Thanks for calling."),
//		teamtest.Merge(`{"groups": {"ops": {"members": ["alice", "bob"]}}}`),
//	)
//	data := cfg.JSON()
//
// It builds JSON only and does not import the team package, so any
// package's tests can use it.
package teamtest
