// Package calendar publishes the on-call schedule as an iCalendar feed
// (RFC 5545) that calendar apps subscribe to: GET /calendar/<token>.ics,
// one event per shift, the team's or one member's.
package calendar
