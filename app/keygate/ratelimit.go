package keygate

import (
	"sync"
	"time"

	"github.com/oncall/pager/app/team"
)

// DefaultRateWindow is PagerDuty's documented Events API v2 window: its
// limit (about 120 calls a minute per integration key, the default of
// team.DefaultRateLimitPerMinute) is counted over the last 60 seconds.
const DefaultRateWindow = time.Minute

// RateLimiter answers whether one more event may be accepted for a key (an
// API key) in the last Window, so the HTTP layer can answer 429 as PagerDuty
// does and a runaway sender cannot flood the store. It counts per process:
// with several replicas behind a balancer each allows the full limit.
type RateLimiter struct {
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	hits map[string][]time.Time // per key, oldest first, within window
}

// NewRateLimiter counts events per window per key (each check names its
// limit: a key's own); a zero window is PagerDuty's, a nil now is time.Now.
func NewRateLimiter(window time.Duration, now func() time.Time) *RateLimiter {
	if window <= 0 {
		window = DefaultRateWindow
	}
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{window: window, now: now, hits: map[string][]time.Time{}}
}

// AllowN records one event for key and reports whether it is within limit
// events a window; when it is not, retryAfter says when one more will be.
// A refused event is not counted, so a sender that backs off recovers
// after one window.
func (l *RateLimiter) AllowN(key string, limit int) (ok bool, retryAfter time.Duration) {
	if limit <= 0 {
		limit = team.DefaultRateLimitPerMinute
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	cut := now.Add(-l.window)
	h := l.hits[key]
	i := 0
	for i < len(h) && !h[i].After(cut) {
		i++
	}
	h = h[i:]
	// Forget idle keys so a scan of random keys cannot grow the map.
	for k, v := range l.hits {
		if k != key && (len(v) == 0 || !v[len(v)-1].After(cut)) {
			delete(l.hits, k)
		}
	}
	if len(h) >= limit {
		l.hits[key] = h
		return false, h[len(h)-limit].Add(l.window).Sub(now)
	}
	l.hits[key] = append(h, now)
	return true, 0
}
