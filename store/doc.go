// Package store is the pager's only persistence: a blob store with ETags and
// conditional writes. Everything several replicas share (config, sessions,
// jobs, audit entries, recordings) lives here, so the same code runs on a
// local folder for the embedded default and on S3 in production.
package store
