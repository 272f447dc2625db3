package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/download"
	"github.com/heptio/ark/pkg/cmd/util/output"
	"github.com/heptio/ark/pkg/format"
)

// NewDescribeCommand returns `ark backup describe NAME...`.
func NewDescribeCommand(f client.Factory) *cobra.Command {
	details := false
	timeout := 20 * time.Second
	c := &cobra.Command{
		Use:               "describe NAME...",
		Short:             "Describe backups: spec, phase, progress, warnings, errors and volume snapshots",
		Example:           "  ark backup describe nginx-backup --details",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Backups, false),
		RunE: func(c *cobra.Command, args []string) error {
			out := c.OutOrStdout()
			for i, name := range args {
				b, err := client.Get[arkv1.Backup](c.Context(), f, "Backup", name)
				if err != nil {
					return fmt.Errorf("getting backup %q: %w", name, err)
				}
				if i > 0 {
					fmt.Fprintln(out, "---")
				}
				output.DescribeBackup(out, b, time.Now())
				if details {
					list, err := resourceList(c, f, b, timeout)
					output.DescribeResourceList(out, list, err)
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&details, "details", false, "Also list the objects in the backup, by kind (from the small resource list kept beside the tarball: nothing large is downloaded).")
	c.Flags().DurationVar(&timeout, "timeout", timeout, "How long to wait for the server to hand out the resource list.")
	return c
}

// resourceList downloads the backup's resource list; the error says why there is none.
func resourceList(c *cobra.Command, f client.Factory, b *arkv1.Backup, timeout time.Duration) (format.ResourceList, error) {
	if p := b.Status.Phase; p != arkv1.BackupPhaseCompleted && p != arkv1.BackupPhasePartiallyFailed {
		return nil, fmt.Errorf("the backup is %s: only a Completed or PartiallyFailed backup has one", output.PhaseOr(string(p), string(arkv1.BackupPhaseNew)))
	}
	ark, err := f.ArkClient()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = download.Stream(c.Context(), ark, f.Namespace(), arkv1.DownloadTargetKindBackupResourceList, b.Name, &buf, true, timeout)
	if errors.Is(err, download.ErrNotFound) {
		return nil, errors.New("the bucket holds none for this backup (made by an ark that kept no resource list)")
	}
	if err != nil {
		return nil, err
	}
	var list format.ResourceList
	if err := json.Unmarshal(buf.Bytes(), &list); err != nil {
		return nil, fmt.Errorf("reading the resource list: %w", err)
	}
	return list, nil
}
