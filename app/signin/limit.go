package signin

import (
	"sync"
	"time"
)

// limiter counts requests per client address in a fixed window, in memory:
// a per-replica bound (the per-number limit, in the store, is the one that
// holds across replicas). Its table is bounded, because client addresses
// come from the public internet.
type limiter struct {
	max     int
	window  time.Duration
	maxKeys int
	now     func() time.Time

	mu   sync.Mutex
	seen map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newLimiter(max int, win time.Duration, maxKeys int, now func() time.Time) *limiter {
	return &limiter{max: max, window: win, maxKeys: maxKeys, now: now, seen: map[string]*window{}}
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w, ok := l.seen[key]
	if ok && now.Sub(w.start) >= l.window {
		w.start, w.n = now, 0
	}
	if !ok {
		if len(l.seen) >= l.maxKeys {
			for k, w := range l.seen {
				if now.Sub(w.start) >= l.window {
					delete(l.seen, k)
				}
			}
			if len(l.seen) >= l.maxKeys {
				// Flooded from many addresses: refuse newcomers rather
				// than forget the ones being limited.
				return false
			}
		}
		w = &window{start: now}
		l.seen[key] = w
	}
	if w.n >= l.max {
		return false
	}
	w.n++
	return true
}
