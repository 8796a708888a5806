//go:build !unix

package procs

import "time"

// processCPU is not read here: the controller stays off.
func processCPU() (time.Duration, bool) { return 0, false }
