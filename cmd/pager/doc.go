// Command pager is the on-call pager: `pager` serves; `pager help` lists the
// tools for trying it and for ops.
package main
