// Package s3store implements store.Store on an S3 bucket (AWS or any
// S3-compatible server that honours conditional PUTs).
package s3store
