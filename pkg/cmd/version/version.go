// Package version is `ark version`.
package version

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/heptio/ark/pkg/buildinfo"
)

// NewCommand returns `ark version`.
func NewCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the ark version",
		Args:  cobra.NoArgs,
		Run: func(c *cobra.Command, _ []string) {
			Print(c.OutOrStdout())
		},
	}
}

// Print writes the version, git commit and Go version of this binary.
func Print(w io.Writer) {
	fmt.Fprintf(w, "Version:     %s\n", buildinfo.Version)
	fmt.Fprintf(w, "Git commit:  %s (%s)\n", buildinfo.GitSHA, buildinfo.GitTreeState)
	fmt.Fprintf(w, "Go version:  %s\n", buildinfo.GoVersion())
}
