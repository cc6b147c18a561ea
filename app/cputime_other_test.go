//go:build !linux

package app_test

import "time"

// threadCPU falls back to the wall clock off Linux.
func threadCPU() time.Duration { return time.Duration(time.Now().UnixNano()) }

// processCPU falls back to the wall clock off Linux.
func processCPU() time.Duration { return time.Duration(time.Now().UnixNano()) }
