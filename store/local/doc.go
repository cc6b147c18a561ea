// Package local implements store.Store on a folder: the embedded default and
// the store for tests. Several processes may share the folder (two replicas on
// one volume); conditional writes stay correct because every mutation holds an
// exclusive flock on <dir>/.lock while it checks and renames.
package local
