// Package signin lets team members into the web console without passwords:
// a six-digit code sent to the member's phone (and email), one use, valid a
// few minutes, with attempts limited per number and per client address; then
// a session whose record lives in the store, so every replica honours it and
// signing out ends it everywhere. Cookies carry the session id signed with a
// key that also lives in the store (shared by replicas, rotatable).
package signin
