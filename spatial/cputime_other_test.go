//go:build !unix

package spatial

import "testing"

// reportCPU reports nothing where process CPU time is not available.
func reportCPU(b *testing.B) func() { return func() {} }
