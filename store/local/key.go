package local

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidKey is returned (wrapped, with the reason) for keys that could
// escape the folder or alias another key on disk.
var ErrInvalidKey = errors.New("local: invalid key")

// Names the store itself keeps in the folder. Keys may not use them, so a
// caller can never overwrite the lock or see a half-written temp file.
const (
	lockName   = ".lock"
	tempPrefix = ".tmp-"
)

// checkKey rejects keys that are not a clean relative slash path. Besides
// traversal, empty and "." segments are refused because "a//b" and "a/./b"
// would name the same file as "a/b" and break List's one-key-per-file view.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if err := checkChars(key); err != nil {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, err)
	}
	if key == lockName {
		return fmt.Errorf("%w %q: reserved name", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w %q: empty path segment (leading, trailing or double slash)", ErrInvalidKey, key)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w %q: %q path segment", ErrInvalidKey, key, seg)
		case strings.HasPrefix(seg, tempPrefix):
			return fmt.Errorf("%w %q: segments starting with %q are reserved", ErrInvalidKey, key, tempPrefix)
		}
	}
	return nil
}

// checkPrefix is looser than checkKey (a prefix may end mid-segment or in a
// slash) but still refuses anything that could walk outside the folder.
func checkPrefix(prefix string) error {
	if err := checkChars(prefix); err != nil {
		return fmt.Errorf("%w: prefix %q: %s", ErrInvalidKey, prefix, err)
	}
	for _, seg := range strings.Split(prefix, "/") {
		if seg == ".." {
			return fmt.Errorf("%w: prefix %q: \"..\" path segment", ErrInvalidKey, prefix)
		}
	}
	return nil
}

func checkChars(s string) error {
	switch {
	case strings.HasPrefix(s, "/"):
		return errors.New("absolute path")
	case strings.ContainsRune(s, '\\'):
		return errors.New("backslash")
	case strings.ContainsRune(s, 0):
		return errors.New("NUL byte")
	}
	return nil
}
