// Package e2e holds the end-to-end tests: each runs a whole pager against
// real peers (internal/harness) and reads like a phone conversation.
package e2e
