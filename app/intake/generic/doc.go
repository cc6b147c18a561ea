// Package generic takes the pager's own plain JSON alert form (POST
// /alerts), for scripts and tools with a configurable webhook: Parse turns
// it into an alerts.Event, Handler serves the route.
package generic
