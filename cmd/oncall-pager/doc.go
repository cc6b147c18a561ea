// Command oncall-pager is the on-call pager: `oncall-pager` serves;
// `oncall-pager help` lists the tools for trying it and for ops.
package main
