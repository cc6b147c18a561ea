// Package jsondoc is an order-preserving JSON document: it reads a file
// into a tree that keeps key order, number text and keys nobody declared,
// changes values in place, and writes it back with nothing else disturbed.
// Decode fills a Go value from the tree, reporting every mismatch with its
// path rather than stopping at the first, so a person editing the file can
// fix them all at once.
package jsondoc
