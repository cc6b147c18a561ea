package team

import (
	"bytes"
	_ "embed"
)

// defaultConfig is an example team that validates, so a first start on an
// empty local folder gives a pager that runs and a file to edit.
//
//go:embed defaultconfig.json
var defaultConfig []byte

// DefaultConfig returns the example config document (a copy: callers may
// keep or change it).
func DefaultConfig() []byte { return bytes.Clone(defaultConfig) }
