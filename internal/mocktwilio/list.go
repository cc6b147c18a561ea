package mocktwilio

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// dateFilter reads a date filter as Twilio's list resources take it: name
// (that day, GMT), name< (on or before), name> (on or after). Each is a
// date (YYYY-MM-DD) or a date-time, of which the date counts.
func dateFilter(q url.Values, name string) (on, before, after time.Time) {
	parse := func(v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		for _, layout := range []string{time.DateOnly, time.RFC3339} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC().Truncate(24 * time.Hour)
			}
		}
		return time.Time{}
	}
	return parse(q.Get(name)), parse(q.Get(name + "<")), parse(q.Get(name + ">"))
}

// inDay applies a dateFilter to t.
func inDay(t time.Time, on, before, after time.Time) bool {
	day := t.UTC().Truncate(24 * time.Hour)
	return (on.IsZero() || day.Equal(on)) && (before.IsZero() || !day.After(before)) && (after.IsZero() || !day.Before(after))
}

// writePage answers a list request with one page of items in Twilio's
// paging envelope (PageSize default 50, Page from 0).
func (s *Server) writePage(w http.ResponseWriter, q url.Values, resource, key string, all []map[string]any) {
	size := 50
	if v, err := strconv.Atoi(q.Get("PageSize")); err == nil && v > 0 {
		size = v
	}
	page, _ := strconv.Atoi(q.Get("Page"))
	start := min(page*size, len(all))
	end := min(start+size, len(all))
	items := all[start:end]
	if items == nil {
		items = []map[string]any{}
	}
	base := "/2010-04-01/Accounts/" + s.accountSID + "/" + resource
	pageURI := func(p int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		return base + "?" + v.Encode()
	}
	var next, prev any
	if end < len(all) {
		next = pageURI(page + 1)
	}
	if page > 0 {
		prev = pageURI(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		key:                 items,
		"start":             start,
		"end":               max(end-1, start),
		"page":              page,
		"page_size":         size,
		"uri":               pageURI(page),
		"first_page_uri":    pageURI(0),
		"next_page_uri":     next,
		"previous_page_uri": prev,
	})
}
