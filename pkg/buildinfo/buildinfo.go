// Package buildinfo holds the version of the ark binary, set at build time by
// the Makefile through -ldflags -X.
package buildinfo

import "runtime"

var (
	// Version is the release, such as v0.5.0, or a git describe of the tree.
	Version = "v0.0.0-dev"
	// GitSHA is the commit the binary was built from.
	GitSHA = "unknown"
	// GitTreeState is "clean" or "dirty".
	GitTreeState = "unknown"
)

// GoVersion is the Go release the binary was built with.
func GoVersion() string { return runtime.Version() }
