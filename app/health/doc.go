// Package health decides whether the pager is ready to do its job: the
// config store answers and holds a valid config, and the store takes
// writes (a periodic probe write). It answers in two registers: a status
// word and a short reason code for anyone, the detail for the admin
// listener and the log.
package health
