// Package audit writes the pager's audit trail into the store: one object per
// entry, because S3 has no append and one object each means concurrent
// replicas never overwrite each other.
package audit
