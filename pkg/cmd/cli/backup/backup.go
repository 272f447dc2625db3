// Package backup is `ark backup`: create, get, describe, logs, download, delete, verify, diff.
package backup

import (
	"github.com/spf13/cobra"

	"github.com/heptio/ark/pkg/client"
)

// NewCommand returns `ark backup` and its verbs.
func NewCommand(f client.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:     "backup",
		Aliases: []string{"backups"},
		Short:   "Work with backups",
		Long:    "Create, inspect and delete backups: tarballs of Kubernetes objects in object storage, with snapshots of their persistent volumes.",
	}
	c.AddCommand(
		NewCreateCommand(f),
		NewGetCommand(f),
		NewDescribeCommand(f),
		NewLogsCommand(f),
		NewDownloadCommand(f),
		NewDeleteCommand(f),
		NewVerifyCommand(f),
		NewDiffCommand(f),
	)
	return c
}
