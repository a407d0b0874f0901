//go:build !unix

package httpproxy

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
