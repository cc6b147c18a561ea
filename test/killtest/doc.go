// Package killtest kills a real pager process (SIGKILL) in the middle of
// fan-outs and counts the texts lost and sent twice once it is restarted.
package killtest
