package restore

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
	"github.com/heptio/ark/pkg/cmd/util/output"
	"github.com/heptio/ark/pkg/cmd/util/wait"
	"github.com/heptio/ark/pkg/format"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	"github.com/heptio/ark/pkg/label"
	"github.com/heptio/ark/pkg/validation"
)

// CreateOptions are the inputs of `ark restore create`.
type CreateOptions struct {
	BackupName string
	// FromBackup and FromSchedule name the backup as Velero's flags do: a backup, or a
	// schedule whose newest Completed backup is restored.
	FromBackup        string
	FromSchedule      string
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
	// DryRun is spec.dryRun.
	DryRun bool
	// AllowProtectedNamespaceTargets is spec.allowProtectedNamespaceTargets.
	AllowProtectedNamespaceTargets bool

	cmd *cobra.Command
	now func() time.Time
	at  time.Time // when the default name was made
}

// NewCreateCommand returns `ark restore create BACKUP`, or (as Velero's) `ark restore
// create [NAME] --from-backup BACKUP | --from-schedule SCHEDULE`.
func NewCreateCommand(f client.Factory) *cobra.Command {
	o := &CreateOptions{now: time.Now}
	c := &cobra.Command{
		Use:   "create BACKUP | [NAME] --from-backup BACKUP | [NAME] --from-schedule SCHEDULE",
		Short: "Create a restore from a backup",
		Long: `Create a restore from a backup, named as the argument or by --from-backup; or from the
newest Completed backup of a schedule (--from-schedule: the backups labelled
ark.heptio.com/schedule-name=SCHEDULE, newest by start time, so it works after a disaster
too, when only the backups synced from the bucket are left). With --from-backup or
--from-schedule the argument, if any, is the restore's name (as in Velero).`,
		Example: `  ark restore create nginx-backup
  ark restore create --from-backup nginx-backup --wait
  ark restore create --from-schedule daily --include-namespaces app
  ark restore create daily-20261121070000 --namespace-mappings abc:def,123:456 --wait`,
		// The argument and flag checks are Args': a wrong command line is a
		// usage error (exit 2), not a failed restore.
		Args: func(c *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(c, args); err != nil {
				return err
			}
			if err := o.Complete(args); err != nil {
				return err
			}
			return o.Validate()
		},
		ValidArgsFunction: completion.Names(f, completion.Backups, true),
		RunE: func(c *cobra.Command, args []string) error {
			if o.FromSchedule != "" {
				ark, err := f.ArkClient()
				if err != nil {
					return err
				}
				b, err := NewestCompletedBackup(c.Context(), ark.ArkV1().Backups(f.Namespace()), o.FromSchedule)
				if err != nil {
					return err
				}
				o.BackupName = b.Name
				fmt.Fprintf(c.OutOrStdout(), "Restoring backup %q, the newest Completed backup of schedule %q.\n", b.Name, o.FromSchedule)
			}
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

// Complete reads the argument: the backup, or with --from-backup or --from-schedule
// the restore's name.
func (o *CreateOptions) Complete(args []string) error {
	switch {
	case o.FromBackup != "" && o.FromSchedule != "":
		return errors.New("give either --from-backup or --from-schedule, not both")
	case o.FromBackup != "" || o.FromSchedule != "":
		if len(args) == 1 {
			if o.Name != "" {
				return errors.New("give the restore's name once: as the argument or as --name")
			}
			o.Name = args[0]
		}
		o.BackupName = o.FromBackup
	case len(args) == 0:
		return errors.New("name the backup to restore: ark restore create BACKUP, --from-backup BACKUP, or --from-schedule SCHEDULE")
	default:
		o.BackupName = args[0]
	}
	return nil
}

// NewestCompletedBackup returns the newest Completed backup of the schedule named
// schedule: of the backups labelled with its name (ScheduleNameLabel), the one that
// started last (after a sync from the bucket, creation times are the sync's). It needs
// no Schedule object. An error says when there is none, and what there is instead.
func NewestCompletedBackup(ctx context.Context, backups arkv1client.BackupInterface, schedule string) (*arkv1.Backup, error) {
	list, err := backups.List(ctx, metav1.ListOptions{LabelSelector: label.Selector(format.ScheduleNameLabel, schedule)})
	if err != nil {
		return nil, fmt.Errorf("listing the backups of schedule %q: %w", schedule, err)
	}
	var newest *arkv1.Backup
	phases := map[arkv1.BackupPhase]int{}
	for i := range list.Items {
		b := &list.Items[i]
		phases[b.Status.Phase]++
		if b.Status.Phase == arkv1.BackupPhaseCompleted && (newest == nil || startedAfter(b, newest)) {
			newest = b
		}
	}
	if newest != nil {
		return newest, nil
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("schedule %q has no backups (none labelled %s)", schedule, label.Selector(format.ScheduleNameLabel, schedule))
	}
	var seen []string
	for p, n := range phases {
		seen = append(seen, fmt.Sprintf("%d %s", n, phaseOr(p)))
	}
	sort.Strings(seen)
	return nil, fmt.Errorf("schedule %q has no Completed backup (its backups: %s)", schedule, strings.Join(seen, ", "))
}

func phaseOr(p arkv1.BackupPhase) string {
	if p == "" {
		return string(arkv1.BackupPhaseNew)
	}
	return string(p)
}

// startedAfter orders backups by start time, then creation time, then name (a
// schedule's names end with their tick).
func startedAfter(a, b *arkv1.Backup) bool {
	ta, tb := a.CreationTimestamp, b.CreationTimestamp
	if a.Status.StartTimestamp != nil && b.Status.StartTimestamp != nil {
		ta, tb = *a.Status.StartTimestamp, *b.Status.StartTimestamp
	}
	if !ta.Equal(&tb) {
		return tb.Before(&ta)
	}
	return a.Name > b.Name
}

// BindFlags adds the command's flags.
func (o *CreateOptions) BindFlags(c *cobra.Command) {
	o.cmd = c
	f := c.Flags()
	f.StringVar(&o.Name, "name", "", "The restore's name (default BACKUP-YYYYMMDDhhmmss).")
	f.StringVar(&o.FromBackup, "from-backup", "", "The backup to restore (as Velero's flag; the same as the argument without it).")
	f.StringVar(&o.FromSchedule, "from-schedule", "", "Restore the newest Completed backup of this schedule.")
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
	f.BoolVar(&o.AllowProtectedNamespaceTargets, "allow-protected-namespace-targets", false, "Let --namespace-mappings map into kube-system, kube-public, kube-node-lease or the ark server's namespace (refused otherwise).")
	f.BoolVar(&o.DryRun, "dry-run", false, "Run the whole restore with every write sent to the API server as a server-side dry run: admission answers as for real, nothing is created or changed, no volume is restored. With --wait, print what a restore would do.")
	f.BoolVarP(&o.Wait, "wait", "w", false, "Wait until the restore is done, showing its progress; exit non-zero unless it Completed (a dry run: unless nothing would fail).")
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

// Validate checks the restore the options describe without asking the
// cluster. With --from-schedule the backup is known only when the command
// runs (the schedule's newest Completed one): the schedule's name stands for
// it here.
func (o *CreateOptions) Validate() error {
	backup := o.BackupName
	if backup == "" {
		backup = o.FromSchedule
	}
	_, err := o.restore("", backup)
	return err
}

// Restore builds and checks the Restore object the options describe.
func (o *CreateOptions) Restore(namespace string) (*arkv1.Restore, error) {
	return o.restore(namespace, o.BackupName)
}

func (o *CreateOptions) restore(namespace, backup string) (*arkv1.Restore, error) {
	mappings, err := ParseNamespaceMappings(o.NamespaceMappings)
	if err != nil {
		return nil, err
	}
	name := o.Name
	if name == "" {
		o.at = o.now()
		name = DefaultName(backup, o.at, 0)
	}
	r := &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: o.Labels},
		Spec: arkv1.RestoreSpec{
			BackupName:         backup,
			IncludedNamespaces: o.IncludeNamespaces,
			ExcludedNamespaces: o.ExcludeNamespaces,
			IncludedResources:  o.IncludeResources,
			ExcludedResources:  o.ExcludeResources,
			NamespaceMapping:   mappings,

			AllowProtectedNamespaceTargets: o.AllowProtectedNamespaceTargets,
		},
	}
	if o.Selector != "" {
		if r.Spec.LabelSelector, err = metav1.ParseToLabelSelector(o.Selector); err != nil {
			return nil, fmt.Errorf("invalid --selector %q: %w", o.Selector, err)
		}
	}
	// The default stays unset; validation.RestoreSpec refuses a policy the API does not know.
	if p := arkv1.ExistingResourcePolicy(o.ExistingResourcePolicy); p != arkv1.ExistingResourcePolicyNone {
		r.Spec.ExistingResourcePolicy = p
	}
	if o.PreserveNodePorts {
		r.Spec.PreserveNodePorts = &o.PreserveNodePorts
	}
	r.Spec.DryRun = o.DryRun
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
	if o.DryRun {
		return o.dryRunSummary(ctx, c, ark, r.Namespace, r.Name)
	}
	if final.Phase != string(arkv1.RestorePhaseCompleted) {
		return fmt.Errorf("restore %q did not complete: %s", r.Name, final.Phase)
	}
	return nil
}

// dryRunSummary prints what a finished dry run found a restore would do; it
// fails when the dry run did not complete or a restore would fail on some
// items.
func (o *CreateOptions) dryRunSummary(ctx context.Context, c *cobra.Command, ark arkclient.Interface, ns, name string) error {
	got, err := ark.ArkV1().Restores(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if got.Status.Phase != arkv1.RestorePhaseDryRunCompleted {
		return fmt.Errorf("dry run %q did not complete: %s %s", name, got.Status.Phase, got.Status.FailureReason)
	}
	results, resultsErr := fetchResults(ctx, ark, ns, name, time.Minute)
	output.DescribeDryRun(c.OutOrStdout(), got, results, resultsErr)
	if got.Status.Errors > 0 {
		return fmt.Errorf("dry run %q: a restore would fail on %d items", name, got.Status.Errors)
	}
	return nil
}
