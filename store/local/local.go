package local

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/oncall/pager/store"
)

// Store is a folder-backed store.Store. Keys map to files under the folder
// ("audit/2026/x.json" → <dir>/audit/2026/x.json).
type Store struct {
	dir  string // as given, for String
	root string // cleaned
	lock string // <root>/.lock

	// sem serialises writers inside the process; a channel rather than a
	// sync.Mutex so a waiting writer can give up when its context ends.
	sem chan struct{}
}

var _ store.Store = (*Store)(nil)

// New opens (creating if needed) a store rooted at dir.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("local: empty directory")
	}
	root := filepath.Clean(dir)
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("local: create %s: %w", dir, err)
	}
	s := &Store{
		dir:  dir,
		root: root,
		lock: filepath.Join(root, lockName),
		sem:  make(chan struct{}, 1),
	}
	// Fail at startup, not on the first write, if the folder is unusable.
	f, err := os.OpenFile(s.lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	f.Close()
	return s, nil
}

// String names the store for logs.
func (s *Store) String() string { return "dir:" + s.dir }

func (s *Store) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

func etagOf(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// Get reads key; store.ErrNotFound when absent.
func (s *Store) Get(ctx context.Context, key string) (store.Object, error) {
	if err := checkKey(key); err != nil {
		return store.Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return store.Object{}, fmt.Errorf("local: get %q: %w", key, err)
	}
	obj, err := s.read(key)
	if err != nil {
		return store.Object{}, fmt.Errorf("local: get %q: %w", key, err)
	}
	return obj, nil
}

// GetIfChanged reads key unless its ETag is still etag.
func (s *Store) GetIfChanged(ctx context.Context, key, etag string) (store.Object, error) {
	obj, err := s.Get(ctx, key)
	if err != nil {
		return store.Object{}, err
	}
	if etag != "" && obj.ETag == etag {
		return store.Object{}, store.ErrNotModified
	}
	return obj, nil
}

// read opens the file once so data and mtime come from the same version: a
// concurrent rename replaces the directory entry, not the open inode.
func (s *Store) read(key string) (store.Object, error) {
	f, err := os.Open(s.path(key))
	if err != nil {
		if isMissing(err) {
			return store.Object{}, store.ErrNotFound
		}
		return store.Object{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return store.Object{}, err
	}
	if !st.Mode().IsRegular() {
		// A directory ("a" while "a/b" exists) is not an object.
		return store.Object{}, store.ErrNotFound
	}
	var buf bytes.Buffer
	buf.Grow(int(st.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(f); err != nil {
		return store.Object{}, err
	}
	data := buf.Bytes()
	return store.Object{Key: key, Data: data, ETag: etagOf(data), Modified: st.ModTime()}, nil
}

// isMissing also treats ENOTDIR as absent: "a/b" cannot exist while "a" is a
// file.
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Put writes data under key. The bytes go to a synced temp file first, so
// the lock is held only for the check and the rename.
func (s *Store) Put(ctx context.Context, key string, data []byte, cond store.Cond) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("local: put %q: %w", key, err)
	}
	dst := s.path(key)
	dir := filepath.Dir(dst)
	tmp, err := s.writeTemp(dir, data)
	if err != nil {
		return "", fmt.Errorf("local: put %q: %w", key, err)
	}
	unlock, err := s.acquire(ctx)
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("local: put %q: %w", key, err)
	}
	committed := false
	err = s.checkCond(key, cond)
	if err == nil {
		err = os.Rename(tmp, dst)
		committed = err == nil
	}
	if !committed {
		// A refused create may have made the key's folders; drop them so
		// failed writes leave no trace.
		os.Remove(tmp)
		s.removeEmptyParents(dir)
	}
	unlock()
	if err != nil {
		if errors.Is(err, store.ErrPrecondition) {
			return "", err
		}
		return "", fmt.Errorf("local: put %q: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("local: put %q: %w", key, err)
	}
	return etagOf(data), nil
}

func (s *Store) checkCond(key string, cond store.Cond) error {
	if cond == (store.Cond{}) {
		return nil
	}
	cur, err := s.read(key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if cond.IfMatch != "" {
			return store.ErrPrecondition
		}
		return nil
	case err != nil:
		return err
	case cond.IfNoneMatch:
		return store.ErrPrecondition
	case cond.IfMatch != "" && cond.IfMatch != cur.ETag:
		return store.ErrPrecondition
	}
	return nil
}

// writeTemp retries when the folder vanishes between MkdirAll and CreateTemp:
// a Delete in another goroutine or process may prune it as empty.
func (s *Store) writeTemp(dir string, data []byte) (string, error) {
	var (
		f   *os.File
		err error
	)
	for range 5 {
		if err = os.MkdirAll(dir, 0o750); err != nil {
			return "", err
		}
		f, err = os.CreateTemp(dir, tempPrefix+"*")
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// acquire takes the in-process semaphore, then the cross-process flock.
func (s *Store) acquire(ctx context.Context) (func(), error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	unlock, err := flockFile(s.lock)
	if err != nil {
		<-s.sem
		return nil, err
	}
	return func() {
		unlock()
		<-s.sem
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Delete removes key and any folders it leaves empty; absent keys are fine.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: delete %q: %w", key, err)
	}
	unlock, err := s.acquire(ctx)
	if err != nil {
		return fmt.Errorf("local: delete %q: %w", key, err)
	}
	defer unlock()
	p := s.path(key)
	st, err := os.Lstat(p)
	switch {
	case isMissing(err):
		return nil
	case err != nil:
		return fmt.Errorf("local: delete %q: %w", key, err)
	case st.IsDir():
		// Not an object; os.Remove would delete an empty folder.
		return nil
	}
	if err := os.Remove(p); err != nil && !isMissing(err) {
		return fmt.Errorf("local: delete %q: %w", key, err)
	}
	dir := filepath.Dir(p)
	s.removeEmptyParents(dir)
	return nil
}

// removeEmptyParents prunes empty folders up to (not including) the root.
// Callers hold the lock; writers tolerate the race via writeTemp's retry.
func (s *Store) removeEmptyParents(dir string) {
	for dir != s.root && strings.HasPrefix(dir, s.root+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// List returns objects whose key starts with prefix (a string prefix, not only
// a folder), sorted by key. ETags are not stored anywhere, so List reads and
// hashes every matching file; keep large blobs out of hot listing paths.
func (s *Store) List(ctx context.Context, prefix string) ([]store.Info, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("local: list %q: %w", prefix, err)
	}
	// Start at the deepest folder the prefix names completely.
	base := prefix[:strings.LastIndex(prefix, "/")+1]
	start := filepath.Join(s.root, filepath.FromSlash(base))
	var out []store.Info
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if isMissing(err) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if p == start {
				return nil
			}
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) || checkKey(key) != nil {
			return nil
		}
		obj, err := s.read(key)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted while we walked
		}
		if err != nil {
			return err
		}
		out = append(out, store.Info{Key: key, ETag: obj.ETag, Size: int64(len(obj.Data)), Modified: obj.Modified})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("local: list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b store.Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Keys lists the keys under prefix, sorted, from the folder's entries alone:
// unlike List it opens no file, so a paginated view of ten thousand objects
// costs one directory read.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	var out []string
	if err := s.keysIn(ctx, prefix[:strings.LastIndex(prefix, "/")+1], prefix, &out); err != nil {
		return nil, fmt.Errorf("local: keys %q: %w", prefix, err)
	}
	// Folders are read in name order, but "a/b" sorts after "a.json".
	slices.Sort(out)
	return out, nil
}

// keysIn adds the keys under prefix found in the folder dir ("" or ending
// in a slash).
func (s *Store) keysIn(ctx context.Context, dir, prefix string, out *[]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(s.root, filepath.FromSlash(dir)))
	if err != nil {
		if isMissing(err) {
			return nil
		}
		return err
	}
	// Unsorted: Keys sorts everything once.
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		if isMissing(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		name := e.Name()
		key := dir + name
		if strings.HasPrefix(name, tempPrefix) || key == lockName {
			continue
		}
		if e.IsDir() {
			if strings.HasPrefix(key+"/", prefix) || strings.HasPrefix(prefix, key+"/") {
				if err := s.keysIn(ctx, key+"/", prefix, out); err != nil {
					return err
				}
			}
			continue
		}
		if e.Type().IsRegular() && strings.HasPrefix(key, prefix) {
			*out = append(*out, key)
		}
	}
	return nil
}
