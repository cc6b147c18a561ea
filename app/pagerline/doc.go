// Package pagerline answers customers calling the pager number
// (current_config.pager_phone): greet, take a voicemail, and hand it to the
// voicemail job that delivers and keeps it.
package pagerline
