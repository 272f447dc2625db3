package backup

import (
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
)

// NewDeleteCommand returns `ark backup delete NAME...`.
func NewDeleteCommand(f client.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete backups, with their files, snapshots and restores",
		Long: `Asks the server to delete backups. The server's garbage collector removes each
backup's files from the bucket, its volume snapshots and the restores made from it,
then the Backup object itself. A backup still InProgress is deleted once it finishes.`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Backups, false),
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := ark.ArkV1().Backups(f.Namespace()).Delete(c.Context(), name, metav1.DeleteOptions{}); err != nil {
					return fmt.Errorf("deleting backup %q: %w", name, err)
				}
				fmt.Fprintf(c.OutOrStdout(), "Request to delete backup %q submitted successfully.\nThe backup, its files, snapshots and restores are removed by the server.\n", name)
			}
			return nil
		},
	}
}
