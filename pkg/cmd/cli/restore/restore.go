// Package restore is `ark restore`: create, get, describe, logs, delete.
package restore

import (
	"github.com/spf13/cobra"

	"github.com/heptio/ark/pkg/client"
)

// NewCommand returns `ark restore` and its verbs.
func NewCommand(f client.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:     "restore",
		Aliases: []string{"restores"},
		Short:   "Work with restores",
		Long:    "Create, inspect and delete restores: recreations of a backup's objects and volumes in the cluster.",
	}
	c.AddCommand(
		NewCreateCommand(f),
		NewGetCommand(f),
		NewDescribeCommand(f),
		NewLogsCommand(f),
		NewDeleteCommand(f),
	)
	return c
}
