package team

import "github.com/oncall/pager/app/jsondoc"

// Duration is a time.Duration written in the config as "24h", "90m" or a
// number of seconds, as the escalation section takes it.
type Duration = jsondoc.Duration
