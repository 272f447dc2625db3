package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/download"
	"github.com/heptio/ark/pkg/cmd/util/output"
	"github.com/heptio/ark/pkg/format"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
)

// NewGetCommand returns `ark restore get [NAME...]`.
func NewGetCommand(f client.Factory) *cobra.Command {
	return output.GetCommand[arkv1.Restore, *arkv1.Restore]{
		Kind:   "Restore",
		Plural: "restores",
		List: func(ctx context.Context, selector string) ([]arkv1.Restore, []error, error) {
			return client.List[arkv1.Restore](ctx, f, "Restore", selector)
		},
		Get: func(ctx context.Context, name string) (*arkv1.Restore, error) {
			return client.Get[arkv1.Restore](ctx, f, "Restore", name)
		},
		Columns: func(time.Time) output.Columns[arkv1.Restore] { return output.RestoreColumns() },
		ToList:  func(items []arkv1.Restore) runtime.Object { return &arkv1.RestoreList{Items: items} },
	}.Command(completion.Names(f, completion.Restores, false))
}

// NewDescribeCommand returns `ark restore describe NAME...`.
func NewDescribeCommand(f client.Factory) *cobra.Command {
	timeout := 20 * time.Second
	var tlsOpts download.TLSOptions
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
				if r.Status.Phase.IsFinal() && r.Status.Phase != arkv1.RestorePhaseFailedValidation && (r.Spec.DryRun || r.Status.Warnings+r.Status.Errors+r.Status.Updated > 0) {
					results, resultsErr = fetchResults(c.Context(), ark, f.Namespace(), name, timeout, download.WithTLS(&tlsOpts))
				}
				output.DescribeRestore(out, r, results, resultsErr, time.Now())
			}
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", timeout, "How long to wait for the server to hand out the results file.")
	tlsOpts.BindFlags(c.Flags())
	return c
}

// NewLogsCommand returns `ark restore logs NAME`.
func NewLogsCommand(f client.Factory) *cobra.Command {
	o := &download.LogOptions{}
	c := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a restore's log",
		Example: `  ark restore logs nginx-backup-20261121070000
  ark restore logs nginx-backup-20261121070000 --level warning -o json`,
		Args:              o.Args,
		ValidArgsFunction: completion.Names(f, completion.Restores, true),
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			return o.Log(c.Context(), ark, f.Namespace(), arkv1.DownloadTargetKindRestoreLog, args[0], c.OutOrStdout())
		},
	}
	o.BindFlags(c)
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

// fetchResults downloads a restore's results file.
func fetchResults(ctx context.Context, ark arkclient.Interface, ns, name string, timeout time.Duration, opts ...download.Option) (*format.RestoreResults, error) {
	var buf bytes.Buffer
	if err := download.Stream(ctx, ark, ns, arkv1.DownloadTargetKindRestoreResults, name, &buf, true, timeout, opts...); err != nil {
		return nil, err
	}
	results := &format.RestoreResults{}
	if err := json.Unmarshal(buf.Bytes(), results); err != nil {
		return nil, err
	}
	return results, nil
}
