// Package cli is the pager's command line: serving, playing a team member or
// a caller against a running pager, and the ops tools for the config.
package cli
