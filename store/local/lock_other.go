//go:build !unix

package local

// flockFile is a no-op where flock is unavailable: writes are then only
// serialised inside one process, so replicas must not share the folder.
func flockFile(string) (unlock func(), err error) {
	return func() {}, nil
}
