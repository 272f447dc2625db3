package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/download"
	"github.com/heptio/ark/pkg/cmd/util/output"
	"github.com/heptio/ark/pkg/format"
)

// NewGetCommand returns `ark restore get [NAME...]`.
func NewGetCommand(f client.Factory) *cobra.Command {
	return output.GetCommand[arkv1.Restore]{
		Plural: "restores",
		List: func(ctx context.Context, selector string) ([]arkv1.Restore, []error, error) {
			return client.List[arkv1.Restore](ctx, f, "Restore", selector)
		},
		Get: func(ctx context.Context, name string) (*arkv1.Restore, error) {
			return client.Get[arkv1.Restore](ctx, f, "Restore", name)
		},
		Print: func(w io.Writer, items []arkv1.Restore, format string, _ time.Time) error {
			return output.Restores(w, &arkv1.RestoreList{Items: items}, format)
		},
	}.Command(completion.Names(f, completion.Restores, false))
}

// NewDescribeCommand returns `ark restore describe NAME...`.
func NewDescribeCommand(f client.Factory) *cobra.Command {
	timeout := 20 * time.Second
	c := &cobra.Command{
		Use:               "describe NAME...",
		Short:             "Describe restores, with their warnings and errors",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Restores, false),
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			for i, name := range args {
				r, err := client.Get[arkv1.Restore](c.Context(), f, "Restore", name)
				if err != nil {
					return fmt.Errorf("getting restore %q: %w", name, err)
				}
				if i > 0 {
					fmt.Fprintln(out, "---")
				}
				var results *format.RestoreResults
				var resultsErr error
				if r.Status.Phase.IsFinal() && r.Status.Phase != arkv1.RestorePhaseFailedValidation && r.Status.Warnings+r.Status.Errors+r.Status.Updated > 0 {
					var buf bytes.Buffer
					if resultsErr = download.Stream(c.Context(), ark, f.Namespace(), arkv1.DownloadTargetKindRestoreResults, name, &buf, true, timeout); resultsErr == nil {
						results = &format.RestoreResults{}
						resultsErr = json.Unmarshal(buf.Bytes(), results)
					}
				}
				output.DescribeRestore(out, r, results, resultsErr, time.Now())
			}
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", timeout, "How long to wait for the server to hand out the results file.")
	return c
}

// NewLogsCommand returns `ark restore logs NAME`.
func NewLogsCommand(f client.Factory) *cobra.Command {
	timeout := time.Minute
	c := &cobra.Command{
		Use:               "logs NAME",
		Short:             "Print a restore's log",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Restores, true),
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			return download.Stream(c.Context(), ark, f.Namespace(), arkv1.DownloadTargetKindRestoreLog, args[0], c.OutOrStdout(), true, timeout)
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", timeout, "How long to wait for the server to answer.")
	return c
}

// NewDeleteCommand returns `ark restore delete NAME...`.
func NewDeleteCommand(f client.Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "delete NAME...",
		Short:             "Delete restore objects (the restored Kubernetes objects stay)",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Restores, false),
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := ark.ArkV1().Restores(f.Namespace()).Delete(c.Context(), name, metav1.DeleteOptions{}); err != nil {
					return fmt.Errorf("deleting restore %q: %w", name, err)
				}
				fmt.Fprintf(c.OutOrStdout(), "Restore %q deleted.\n", name)
			}
			return nil
		},
	}
}
