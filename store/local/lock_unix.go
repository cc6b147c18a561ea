//go:build unix

package local

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// flockFile takes an exclusive flock on path. flock belongs to the open file
// description, so two Store values (or two processes) opening the same lock
// file exclude each other even inside one process.
func flockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() {
		// Closing the descriptor releases the lock.
		f.Close()
	}, nil
}
