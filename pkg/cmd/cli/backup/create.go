package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/wait"
	"github.com/heptio/ark/pkg/validation"
)

// CreateOptions are the inputs of `ark backup create`.
type CreateOptions struct {
	Name   string
	Spec   SpecFlags
	Labels map[string]string
	Wait   bool
	// FromSchedule names a schedule whose template and labels the backup takes.
	FromSchedule string

	cmd *cobra.Command
}

// NewCreateCommand returns `ark backup create NAME`.
func NewCreateCommand(f client.Factory) *cobra.Command {
	o := &CreateOptions{}
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a backup",
		Example: `  ark backup create nginx-backup --selector app=nginx
  ark backup create pre-upgrade --include-namespaces app --ttl 72h --wait
  ark backup create daily-now --from-schedule daily`,
		// The flag checks are Args': a wrong command line is a usage error (exit 2).
		Args: func(c *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(c, args); err != nil {
				return err
			}
			o.Name = args[0]
			return o.Validate()
		},
		RunE: func(c *cobra.Command, args []string) error {
			return o.Run(c.Context(), c, f)
		},
	}
	o.BindFlags(c)
	return c
}

// BindFlags adds the command's flags.
func (o *CreateOptions) BindFlags(c *cobra.Command) {
	o.cmd = c
	o.Spec.BindFlags(c)
	c.Flags().StringToStringVar(&o.Labels, "labels", nil, "Labels to put on the backup object, such as env=prod.")
	c.Flags().StringVar(&o.FromSchedule, "from-schedule", "", "Take the backup now as this schedule would: its template and its labels (with ark.heptio.com/schedule-name). No other backup flag but --labels goes with it.")
	c.Flags().BoolVarP(&o.Wait, "wait", "w", false, "Wait until the backup is done, showing its progress; exit non-zero unless it Completed.")
}

// specFlagNames are the flags that say what a backup takes (SpecFlags).
var specFlagNames = []string{"include-namespaces", "exclude-namespaces", "include-resources", "exclude-resources", "selector", "ttl", "snapshot-volumes", "include-cluster-resources"}

// Validate checks the options without asking the cluster.
func (o *CreateOptions) Validate() error {
	if o.FromSchedule != "" && o.cmd != nil {
		for _, n := range specFlagNames {
			if o.cmd.Flags().Changed(n) {
				return fmt.Errorf("--%s cannot be used with --from-schedule: the backup takes the schedule's template", n)
			}
		}
	}
	spec, err := o.Spec.Spec()
	if err != nil {
		return err
	}
	if errs := validation.BackupSpec(&spec, nil); len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	if errs := metav1validation.ValidateLabels(o.Labels, field.NewPath("labels")); len(errs) > 0 {
		return fmt.Errorf("invalid --labels: %w", errs.ToAggregate())
	}
	return nil
}

// Run creates the backup and, with --wait, follows it.
func (o *CreateOptions) Run(ctx context.Context, c *cobra.Command, f client.Factory) error {
	spec, _ := o.Spec.Spec()
	ark, err := f.ArkClient()
	if err != nil {
		return err
	}
	backup := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace(), Name: o.Name, Labels: o.Labels},
		Spec:       spec,
	}
	if o.FromSchedule != "" {
		s, err := ark.ArkV1().Schedules(f.Namespace()).Get(ctx, o.FromSchedule, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("schedule %s not found", o.FromSchedule)
		}
		if err != nil {
			return fmt.Errorf("getting schedule %q: %w", o.FromSchedule, err)
		}
		backup = s.NewBackup(o.Name)
		for k, v := range o.Labels {
			backup.Labels[k] = v
		}
	}
	if _, err := ark.ArkV1().Backups(f.Namespace()).Create(ctx, backup, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating backup %q: %w", o.Name, err)
	}
	out := c.OutOrStdout()
	fmt.Fprintf(out, "Backup request %q submitted successfully.\n", o.Name)
	if !o.Wait {
		fmt.Fprintf(out, "Run `ark backup describe %s` for more details.\n", o.Name)
		return nil
	}
	final, err := wait.Until(ctx, c.ErrOrStderr(), "Backup "+o.Name, time.Second, func(ctx context.Context) (wait.State, error) {
		b, err := ark.ArkV1().Backups(f.Namespace()).Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			return wait.State{}, err
		}
		s := wait.State{Phase: string(b.Status.Phase), Final: b.Status.Phase.IsFinal()}
		if p := b.Status.Progress; p != nil {
			s.Done, s.Total = p.ItemsBackedUp, p.TotalItems
		}
		return s, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Backup %q finished: %s. Run `ark backup describe %s` for more details.\n", o.Name, final.Phase, o.Name)
	if final.Phase != string(arkv1.BackupPhaseCompleted) {
		return fmt.Errorf("backup %q did not complete: %s", o.Name, final.Phase)
	}
	return nil
}
