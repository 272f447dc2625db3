package backup

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

// SpecFlags are the flags that say what a backup takes; `ark backup create`
// and `ark schedule create` share them.
type SpecFlags struct {
	IncludeNamespaces       []string
	ExcludeNamespaces       []string
	IncludeResources        []string
	ExcludeResources        []string
	Selector                string
	TTL                     time.Duration
	SnapshotVolumes         bool
	IncludeClusterResources bool

	cmd *cobra.Command
}

// BindFlags adds the flags to c.
func (o *SpecFlags) BindFlags(c *cobra.Command) {
	o.cmd = c
	f := c.Flags()
	f.StringSliceVar(&o.IncludeNamespaces, "include-namespaces", []string{"*"}, "Namespaces to include in the backup (use '*' for all namespaces).")
	f.StringSliceVar(&o.ExcludeNamespaces, "exclude-namespaces", nil, "Namespaces to exclude from the backup.")
	f.StringSliceVar(&o.IncludeResources, "include-resources", nil, "Resources to include in the backup, formatted as resource.group, such as storageclasses.storage.k8s.io, or short names such as deploy (use '*' for all resources).")
	f.StringSliceVar(&o.ExcludeResources, "exclude-resources", nil, "Resources to exclude from the backup, formatted as resource.group, such as storageclasses.storage.k8s.io.")
	f.StringVarP(&o.Selector, "selector", "l", "", "Only back up resources matching this label selector, such as app=nginx.")
	f.DurationVar(&o.TTL, "ttl", arkv1.DefaultBackupTTL, "How long before the backup can be garbage collected.")
	f.BoolVar(&o.SnapshotVolumes, "snapshot-volumes", true, "Take snapshots of PersistentVolumes as part of the backup.")
	f.BoolVar(&o.IncludeClusterResources, "include-cluster-resources", false, "Include cluster-scoped resources in the backup. Unset means: all of them when the backup covers every namespace, otherwise only the volumes of included claims.")
}

// Spec turns the flags into a BackupSpec. Optional booleans stay unset unless
// the user gave the flag, so the server's defaults apply.
func (o *SpecFlags) Spec() (arkv1.BackupSpec, error) {
	spec := arkv1.BackupSpec{
		IncludedNamespaces: trim(o.IncludeNamespaces),
		ExcludedNamespaces: trim(o.ExcludeNamespaces),
		IncludedResources:  trim(o.IncludeResources),
		ExcludedResources:  trim(o.ExcludeResources),
		TTL:                metav1.Duration{Duration: o.TTL},
	}
	if o.TTL < 0 {
		return spec, fmt.Errorf("--ttl %s is negative", o.TTL)
	}
	if o.Selector != "" {
		sel, err := metav1.ParseToLabelSelector(o.Selector)
		if err != nil {
			return spec, fmt.Errorf("invalid --selector %q: %w", o.Selector, err)
		}
		spec.LabelSelector = sel
	}
	if o.cmd != nil && o.cmd.Flags().Changed("snapshot-volumes") {
		v := o.SnapshotVolumes
		spec.SnapshotVolumes = &v
	}
	if o.cmd != nil && o.cmd.Flags().Changed("include-cluster-resources") {
		v := o.IncludeClusterResources
		spec.IncludeClusterResources = &v
	}
	return spec, nil
}

func trim(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
