// Package ark builds the root `ark` command.
package ark

import (
	"github.com/spf13/cobra"

	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/cli/backup"
	"github.com/heptio/ark/pkg/cmd/cli/install"
	"github.com/heptio/ark/pkg/cmd/cli/restore"
	"github.com/heptio/ark/pkg/cmd/cli/schedule"
	"github.com/heptio/ark/pkg/cmd/server"
	"github.com/heptio/ark/pkg/cmd/version"
)

// NewCommand returns the root command with every subcommand.
func NewCommand() *cobra.Command {
	f := client.NewFactory()
	c := &cobra.Command{
		Use:   "ark",
		Short: "Back up and restore Kubernetes cluster resources and persistent volumes",
		Long: `ark backs up the objects of a Kubernetes cluster, filtered by namespace, resource and
label, as tarballs in object storage (S3, GCS, Azure Blob or a local directory), snapshots
persistent volumes, and restores them, also into another namespace or cluster.

'ark server' runs in the cluster; every other command is the client, which creates and
reads ark's custom resources (Backup, Restore, Schedule) in the server's namespace.
` + exitCodesHelp,
		SilenceUsage: true,
	}
	f.BindFlags(c.PersistentFlags())
	c.AddCommand(
		backup.NewCommand(f),
		restore.NewCommand(f),
		schedule.NewCommand(f),
		server.NewCommand(f),
		version.NewCommand(f),
		install.NewCommand(f),
		install.NewUninstallCommand(f),
	)
	strict(c)
	return c
}
