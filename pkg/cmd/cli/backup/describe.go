package backup

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/output"
)

// NewDescribeCommand returns `ark backup describe NAME...`.
func NewDescribeCommand(f client.Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "describe NAME...",
		Short:             "Describe backups: spec, phase, progress, warnings, errors and volume snapshots",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Backups, false),
		RunE: func(c *cobra.Command, args []string) error {
			for i, name := range args {
				b, err := client.Get[arkv1.Backup](c.Context(), f, "Backup", name)
				if err != nil {
					return fmt.Errorf("getting backup %q: %w", name, err)
				}
				if i > 0 {
					fmt.Fprintln(c.OutOrStdout(), "---")
				}
				output.DescribeBackup(c.OutOrStdout(), b, time.Now())
			}
			return nil
		},
	}
}
