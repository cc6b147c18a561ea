// Package storetest holds the contract test every store.Store passes, plus
// test doubles: an in-process fake S3 server with an outage switch (StartS3,
// NewS3, Fault) and a fault-injecting wrapper for any store (Faulty).
package storetest
