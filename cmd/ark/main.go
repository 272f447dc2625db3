// Command ark backs up and restores Kubernetes clusters. `ark server` runs the
// controllers; every other command is the client.
package main

import (
	"os"

	"github.com/heptio/ark/pkg/cmd/ark"
)

func main() {
	os.Exit(ark.ExitCode(ark.NewCommand().Execute()))
}
