package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/download"
	"github.com/heptio/ark/pkg/cmd/util/output"
	"github.com/heptio/ark/pkg/diff"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/restore"
)

// DiffOptions are the inputs of `ark backup diff`.
type DiffOptions struct {
	Namespaces []string
	Resources  []string
	Output     string
	ExitCode   bool
	Timeout    time.Duration
}

// NewDiffCommand returns `ark backup diff NAME`.
func NewDiffCommand(f client.Factory) *cobra.Command {
	o := &DiffOptions{Output: "text", Timeout: time.Minute}
	c := &cobra.Command{
		Use:   "diff NAME",
		Short: "Compare a backup with the live cluster, object by object",
		Long: `Compares a backup with the cluster: objects only in the backup (what a disaster took
away), objects only in the cluster within the backup's scope (its namespaces, resources and
label selector), and objects in both that differ, field by field. Fields the API server sets
(uid, resourceVersion, managedFields, the status of Kubernetes' own kinds...) are left out of
the comparison as a restore leaves them out, and so is the label a restore puts on what it
creates.

It runs here, with your credentials: the tarball comes through a DownloadRequest (as
` + "`ark backup download`" + `, checked against its recorded SHA-256), and the cluster is read as you
may read it; what you may not read is listed as not compared.

Namespaces and persistent volumes are compared when they are in the backup; the cluster's
other namespaces, persistent volumes and CRDs are not listed as only in the cluster (a
backup takes them only for the objects it holds).`,
		Example: `  ark backup diff daily-20261121070000
  ark backup diff nginx-backup --include-namespaces nginx-example --include-resources deployments.apps,configmaps
  ark backup diff nginx-backup -o json`,
		// The flag checks are Args': a wrong command line is a usage error (exit 2).
		Args: func(c *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(c, args); err != nil {
				return err
			}
			return output.CheckFormat(o.Output, "text", "json")
		},
		ValidArgsFunction: completion.Names(f, completion.Backups, true),
		RunE: func(c *cobra.Command, args []string) error {
			return o.Run(c.Context(), c, f, args[0])
		},
	}
	fl := c.Flags()
	fl.StringSliceVar(&o.Namespaces, "include-namespaces", nil, "Compare only these namespaces (and no cluster-scoped objects). Default: the backup's.")
	fl.StringSliceVar(&o.Resources, "include-resources", nil, "Compare only these resources, such as configmaps,deployments.apps. Default: the backup's.")
	fl.StringVarP(&o.Output, "output", "o", o.Output, "Output format: text or json.")
	fl.BoolVar(&o.ExitCode, "exit-code", false, "Exit with status 1 when the backup and the cluster differ.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the server to hand out the tarball.")
	return c
}

// Run downloads the backup, compares it with the cluster and prints the report.
func (o *DiffOptions) Run(ctx context.Context, c *cobra.Command, f client.Factory, name string) error {
	ark, err := f.ArkClient()
	if err != nil {
		return err
	}
	restConfig, err := f.ClientConfig()
	if err != nil {
		return err
	}
	// A diff lists every resource of the backup's scope, one request each:
	// client-go's default 5 QPS made a small cluster's diff take 10 s. The
	// API server's Priority and Fairness paces it instead, as for the server
	// (--client-qps -1). Deprecation warnings of the resources listed (v1
	// Endpoints, ComponentStatus) are not the user's concern here.
	restConfig = rest.CopyConfig(restConfig)
	restConfig.QPS, restConfig.Burst = -1, 0
	restConfig.WarningHandler = rest.NoWarnings{}
	discoveryClient, err := clientdiscovery.NewDiscoveryClientForConfig(restConfig)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	b, err := ark.ArkV1().Backups(f.Namespace()).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting backup %q: %w", name, err)
	}
	if p := b.Status.Phase; p != arkv1.BackupPhaseCompleted && p != arkv1.BackupPhasePartiallyFailed {
		return fmt.Errorf("backup %q is %s: only a Completed or PartiallyFailed backup has a tarball to compare", name, p)
	}

	tmp, err := os.CreateTemp("", "ark-diff-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := download.Stream(ctx, ark, f.Namespace(), arkv1.DownloadTargetKindBackupContents, name, tmp, false, o.Timeout); err != nil {
		return err
	}
	if err := verifyDownload(ctx, ark, f.Namespace(), name, tmp.Name(), false, c); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	arc, err := restore.OpenArchive(ctx, tmp, "", restore.ArchiveLimits{})
	if err != nil {
		return fmt.Errorf("reading the backup's tarball: %w", err)
	}
	defer arc.Close()

	disc := discovery.NewHelper(discoveryClient)
	if err := disc.Refresh(ctx); err != nil {
		return fmt.Errorf("discovering the cluster's resources: %w", err)
	}
	rep, err := diff.Compare(ctx, disc, dyn, b, arc, diff.Options{Namespaces: o.Namespaces, Resources: o.Resources})
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	if o.Output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		PrintDiff(out, rep)
	}
	if o.ExitCode && rep.Differs() {
		c.SilenceUsage = true
		return diff.ErrDiffers
	}
	return nil
}

// PrintDiff writes a report for people.
func PrintDiff(w io.Writer, rep *diff.Report) {
	fmt.Fprintf(w, "Backup %s compared with the cluster: %s.\n", rep.Backup, rep.Summary())
	section := func(title string, refs []restore.ItemRef) {
		if len(refs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s (%d):\n", title, len(refs))
		for _, r := range refs {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}
	section("Only in the backup", rep.OnlyInBackup)
	section("Only in the cluster", rep.OnlyInCluster)
	if len(rep.Changed) > 0 {
		fmt.Fprintf(w, "\nChanged (%d):\n", len(rep.Changed))
		for _, ch := range rep.Changed {
			fmt.Fprintf(w, "  %s\n", ch.ItemRef)
			for _, fd := range ch.Fields {
				fmt.Fprintf(w, "    %s: %s -> %s\n", fd.Path, value(fd.Backup), value(fd.Cluster))
			}
		}
	}
	if len(rep.Errors) > 0 {
		fmt.Fprintf(w, "\nNot compared (%d):\n", len(rep.Errors))
		for _, e := range rep.Errors {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// value shows a field's value as JSON, <absent> for none.
func value(v any) string {
	if v == nil {
		return "<absent>"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(data) > 120 {
		return string(data[:117]) + "..."
	}
	return string(data)
}
