package restore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/wait"
	"github.com/heptio/ark/pkg/format"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	"github.com/heptio/ark/pkg/validation"
)

// CreateOptions are the inputs of `ark restore create`.
type CreateOptions struct {
	BackupName        string
	Name              string
	RestoreVolumes    bool
	NamespaceMappings string
	IncludeNamespaces []string
	ExcludeNamespaces []string
	IncludeResources  []string
	ExcludeResources  []string
	Selector          string
	Labels            map[string]string
	Wait              bool
	// ExistingResourcePolicy is spec.existingResourcePolicy: none or update.
	ExistingResourcePolicy string
	PreserveNodePorts      bool

	cmd *cobra.Command
	now func() time.Time
	at  time.Time // when the default name was made
}

// NewCreateCommand returns `ark restore create BACKUP`.
func NewCreateCommand(f client.Factory) *cobra.Command {
	o := &CreateOptions{now: time.Now}
	c := &cobra.Command{
		Use:   "create BACKUP",
		Short: "Create a restore from a backup",
		Example: `  ark restore create nginx-backup
  ark restore create daily-20261121070000 --namespace-mappings abc:def,123:456 --wait`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Backups, true),
		RunE: func(c *cobra.Command, args []string) error {
			o.BackupName = args[0]
			restore, err := o.Restore(f.Namespace())
			if err != nil {
				return err
			}
			return o.Run(c.Context(), c, f, restore)
		},
	}
	o.BindFlags(c)
	return c
}

// BindFlags adds the command's flags.
func (o *CreateOptions) BindFlags(c *cobra.Command) {
	o.cmd = c
	f := c.Flags()
	f.StringVar(&o.Name, "name", "", "The restore's name (default BACKUP-YYYYMMDDhhmmss).")
	f.BoolVar(&o.RestoreVolumes, "restore-volumes", true, "Recreate persistent volumes from their snapshots.")
	f.StringVar(&o.NamespaceMappings, "namespace-mappings", "", "Restore namespaces under other names, as src1:dst1,src2:dst2.")
	f.StringSliceVar(&o.IncludeNamespaces, "include-namespaces", []string{"*"}, "Namespaces of the backup to restore (use '*' for all namespaces).")
	f.StringSliceVar(&o.ExcludeNamespaces, "exclude-namespaces", nil, "Namespaces of the backup not to restore.")
	f.StringSliceVar(&o.IncludeResources, "include-resources", nil, "Resources to restore, formatted as resource.group, such as storageclasses.storage.k8s.io, or short names (use '*' for all resources).")
	f.StringSliceVar(&o.ExcludeResources, "exclude-resources", nil, "Resources not to restore, formatted as resource.group.")
	f.StringVarP(&o.Selector, "selector", "l", "", "Only restore resources matching this label selector.")
	f.StringToStringVar(&o.Labels, "labels", nil, "Labels to put on the restore object.")
	f.StringVar(&o.ExistingResourcePolicy, "existing-resource-policy", string(arkv1.ExistingResourcePolicyNone), "What to do with objects that already exist: none (leave them, with a warning) or update (bring them to their backed-up state by server-side apply).")
	f.BoolVar(&o.PreserveNodePorts, "preserve-nodeports", false, "Keep the node ports of restored Services when they are free (otherwise the cluster chooses new ones).")
	f.BoolVarP(&o.Wait, "wait", "w", false, "Wait until the restore is done, showing its progress; exit non-zero unless it Completed.")
}

// maxNameAttempts bounds the names tried when default names collide.
const maxNameAttempts = 100

// DefaultName is the name of a restore of backup created at now when no name
// is given: <backup>-<YYYYMMDDhhmmss>, then <backup>-<YYYYMMDDhhmmss>-<attempt>
// for attempt 1, 2, ... when a restore of that name exists (two restores of one
// backup in the same second). The backup part is shortened so that the name
// stays a valid object name (253 characters).
func DefaultName(backup string, now time.Time, attempt int) string {
	suffix := "-" + now.UTC().Format(format.NameTimestamp)
	if attempt > 0 {
		suffix += "-" + strconv.Itoa(attempt)
	}
	if max := utilvalidation.DNS1123SubdomainMaxLength - len(suffix); len(backup) > max {
		backup = strings.TrimRight(backup[:max], "-.")
	}
	return backup + suffix
}

// createRestore creates r; with a default name, a name already taken (a
// restore of the same backup in the same second) is not an error: the next
// name from nameFor is tried.
func createRestore(ctx context.Context, client arkv1client.RestoreInterface, r *arkv1.Restore, defaultName bool, nameFor func(attempt int) string) (*arkv1.Restore, error) {
	for attempt := 1; ; attempt++ {
		created, err := client.Create(ctx, r, metav1.CreateOptions{})
		if !defaultName || !apierrors.IsAlreadyExists(err) || attempt >= maxNameAttempts {
			return created, err
		}
		r = r.DeepCopy()
		r.Name = nameFor(attempt)
	}
}

// ParseNamespaceMappings reads "abc:def,123:456".
func ParseNamespaceMappings(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		src, dst, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || src == "" || dst == "" {
			return nil, fmt.Errorf("invalid --namespace-mappings entry %q: want source:target", pair)
		}
		if _, dup := m[src]; dup {
			return nil, fmt.Errorf("invalid --namespace-mappings: %q is mapped twice", src)
		}
		m[src] = dst
	}
	return m, nil
}

// Restore builds and checks the Restore object the options describe.
func (o *CreateOptions) Restore(namespace string) (*arkv1.Restore, error) {
	mappings, err := ParseNamespaceMappings(o.NamespaceMappings)
	if err != nil {
		return nil, err
	}
	name := o.Name
	if name == "" {
		o.at = o.now()
		name = DefaultName(o.BackupName, o.at, 0)
	}
	r := &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: o.Labels},
		Spec: arkv1.RestoreSpec{
			BackupName:         o.BackupName,
			IncludedNamespaces: o.IncludeNamespaces,
			ExcludedNamespaces: o.ExcludeNamespaces,
			IncludedResources:  o.IncludeResources,
			ExcludedResources:  o.ExcludeResources,
			NamespaceMapping:   mappings,
		},
	}
	if o.Selector != "" {
		if r.Spec.LabelSelector, err = metav1.ParseToLabelSelector(o.Selector); err != nil {
			return nil, fmt.Errorf("invalid --selector %q: %w", o.Selector, err)
		}
	}
	switch p := arkv1.ExistingResourcePolicy(o.ExistingResourcePolicy); p {
	case "", arkv1.ExistingResourcePolicyNone:
	case arkv1.ExistingResourcePolicyUpdate:
		r.Spec.ExistingResourcePolicy = p
	default:
		return nil, fmt.Errorf("invalid --existing-resource-policy %q: want %s or %s", p, arkv1.ExistingResourcePolicyNone, arkv1.ExistingResourcePolicyUpdate)
	}
	if o.PreserveNodePorts {
		r.Spec.PreserveNodePorts = &o.PreserveNodePorts
	}
	if o.cmd != nil && o.cmd.Flags().Changed("restore-volumes") {
		v := o.RestoreVolumes
		r.Spec.RestorePVs = &v
	}
	if errs := validation.RestoreSpec(&r.Spec, nil); len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return r, nil
}

// Run creates the restore and, with --wait, follows it.
func (o *CreateOptions) Run(ctx context.Context, c *cobra.Command, f client.Factory, r *arkv1.Restore) error {
	ark, err := f.ArkClient()
	if err != nil {
		return err
	}
	created, err := createRestore(ctx, ark.ArkV1().Restores(r.Namespace), r, o.Name == "", func(attempt int) string {
		return DefaultName(o.BackupName, o.at, attempt)
	})
	if err != nil {
		return fmt.Errorf("creating restore %q: %w", r.Name, err)
	}
	r = created
	out := c.OutOrStdout()
	fmt.Fprintf(out, "Restore request %q submitted successfully.\n", r.Name)
	if !o.Wait {
		fmt.Fprintf(out, "Run `ark restore describe %s` for more details.\n", r.Name)
		return nil
	}
	final, err := wait.Until(ctx, c.ErrOrStderr(), "Restore "+r.Name, time.Second, func(ctx context.Context) (wait.State, error) {
		got, err := ark.ArkV1().Restores(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			return wait.State{}, err
		}
		s := wait.State{Phase: string(got.Status.Phase), Final: got.Status.Phase.IsFinal()}
		if p := got.Status.Progress; p != nil {
			s.Done, s.Total = p.ItemsRestored, p.TotalItems
		}
		return s, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Restore %q finished: %s. Run `ark restore describe %s` for more details.\n", r.Name, final.Phase, r.Name)
	if final.Phase != string(arkv1.RestorePhaseCompleted) {
		return fmt.Errorf("restore %q did not complete: %s", r.Name, final.Phase)
	}
	return nil
}
