package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// RejectInterval is how often refused requests are summed up in one log
// line, and how often one source may leave an audit entry.
const RejectInterval = time.Minute

// DetachedTimeout bounds the store writes a request leaves behind on a
// context without its cancellation (the audit of a refusal, forgetting a
// failed delivery): they must outlive a client that hung up, but a slow
// store must not hold the request, its goroutine and its connection slot
// for ever.
const DetachedTimeout = 2 * time.Second

// maxSourcesPerInterval bounds the sources remembered in one interval, so a
// flood from many addresses costs a fixed amount of memory, log and audit;
// past it refusals are only counted.
const maxSourcesPerInterval = 100

// maxSourceLen bounds a source named by the caller (an IPv6 address or an
// E.164 number is well under it).
const maxSourceLen = 64

// Rejections keeps what refused requests leave behind bounded: each source
// is logged and audited at most once per interval, and every refusal is
// counted into one summary line per interval. Without it every unsigned
// request wrote a synced audit object and a log line.
type Rejections struct {
	log      *slog.Logger
	audit    func(ctx context.Context, source, path, reason string)
	now      func() time.Time
	interval time.Duration

	mu       sync.Mutex
	start    time.Time
	count    int
	byReason map[string]int
	seen     map[string]bool
}

// NewRejections reports refusals to log and, once per source and interval,
// to audit (which may be nil).
func NewRejections(log *slog.Logger, audit func(ctx context.Context, source, path, reason string), now func() time.Time) *Rejections {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Rejections{log: log, audit: audit, now: now, interval: RejectInterval}
}

// Reject records one refused request for reason (a fixed phrase, never
// request data), from the client's address.
func (r *Rejections) Reject(c echo.Context, reason string) {
	r.RejectAddr(c.Request(), c.RealIP(), reason) // the socket's address, or a trusted proxy's word: bounded
}

// RejectAddr is Reject for a handler outside echo (the console), which
// names the client's address itself.
func (r *Rejections) RejectAddr(req *http.Request, addr, reason string) {
	r.record(req, ClientSource(addr), reason)
}

// ClientSource is what a client address counts as wherever clients are
// counted (refusal traces, sign-in attempts): the address, or for IPv6 its
// /64, which one host usually holds whole. Counted by single addresses, one
// host could fill a bounded table with addresses it picks, locking others
// out of it.
func ClientSource(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() || a.Is4In6() {
		return addr
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// RejectFrom is Reject for a refusal whose source is not the client's
// address: a text's sender, when every request comes from Twilio.
func (r *Rejections) RejectFrom(c echo.Context, source, reason string) {
	r.record(c.Request(), source, reason)
}

// record counts one refusal; source is cut short, as it may come from the
// request.
func (r *Rejections) record(req *http.Request, source, reason string) {
	source = Truncate(source, maxSourceLen)
	path := Truncate(req.URL.Path, 128)
	r.mu.Lock()
	now := r.now()
	if r.start.IsZero() || now.Sub(r.start) >= r.interval {
		r.flushLocked(now)
	}
	r.count++
	r.byReason[reason]++
	first := !r.seen[source] && len(r.seen) < maxSourcesPerInterval
	if first {
		r.seen[source] = true
	}
	r.mu.Unlock()
	if !first {
		return
	}
	attrs := []any{"path", path, "reason", reason, "source", source}
	if strings.Contains(reason, "X-Twilio-Signature") {
		attrs = append(attrs, "hint", "check that ONCALL_APP_BASE_URL matches the URL in the Twilio console, and TWILIO_AUTH_TOKEN")
	}
	r.log.Warn("request refused (more from this source within a minute are only counted)", attrs...)
	if r.audit != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), DetachedTimeout)
		defer cancel()
		r.audit(ctx, source, path, reason)
	}
}

// Flush logs the summary of the current interval, if anything was refused,
// and starts a new one. Run calls it every interval.
func (r *Rejections) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushLocked(r.now())
}

func (r *Rejections) flushLocked(now time.Time) {
	if r.count > 0 {
		reasons := make([]string, 0, len(r.byReason))
		for k := range r.byReason {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		attrs := []any{"count", r.count, "sources", len(r.seen), "since", r.start.UTC().Format(time.RFC3339)}
		for _, k := range reasons {
			attrs = append(attrs, slog.Int("reason."+k, r.byReason[k]))
		}
		r.log.Warn("requests refused", attrs...)
	}
	r.start, r.count = now, 0
	r.byReason = map[string]int{}
	r.seen = map[string]bool{}
}

// Run flushes the summary every interval until ctx ends.
func (r *Rejections) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Flush()
			return
		case <-t.C:
			r.Flush()
		}
	}
}
