// Package schedule is `ark schedule`: create, get, describe, delete.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/cli/backup"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/output"
	"github.com/heptio/ark/pkg/validation"
)

// NewCommand returns `ark schedule` and its verbs.
func NewCommand(f client.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:     "schedule",
		Aliases: []string{"schedules"},
		Short:   "Work with schedules",
		Long:    "Create, inspect, pause and delete schedules, which create backups on a cron schedule named <schedule>-<YYYYMMDDhhmmss>.",
	}
	c.AddCommand(newCreateCommand(f), newGetCommand(f), newDescribeCommand(f), newDeleteCommand(f), newPauseCommand(f, true), newPauseCommand(f, false))
	return c
}

// CreateOptions are the inputs of `ark schedule create`.
type CreateOptions struct {
	Name     string
	Schedule string
	Labels   map[string]string
	Paused   bool
	// Verify is spec.verify: verify each backup once done.
	Verify bool
	Spec   backup.SpecFlags
}

// Object builds and checks the Schedule the options describe. The cron
// expression is parsed as the server parses it (validation.CronParser).
func (o *CreateOptions) Object(namespace string) (*arkv1.Schedule, error) {
	if _, err := validation.CronParser.Parse(o.Schedule); err != nil {
		return nil, fmt.Errorf("invalid --schedule %q: %w (want five fields, minute hour day month weekday, such as \"0 7 * * *\", or a descriptor such as @daily)", o.Schedule, err)
	}
	spec, err := o.Spec.Spec()
	if err != nil {
		return nil, err
	}
	s := &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: o.Name, Labels: o.Labels},
		Spec:       arkv1.ScheduleSpec{Schedule: o.Schedule, Template: spec, Paused: o.Paused, Verify: o.Verify},
	}
	if errs := validation.Schedule(&s.Spec, nil); len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return s, nil
}

func newCreateCommand(f client.Factory) *cobra.Command {
	o := &CreateOptions{}
	c := &cobra.Command{
		Use:     "create NAME --schedule CRON",
		Short:   "Create a schedule",
		Example: `  ark schedule create daily --schedule "0 7 * * *"`,
		// The flag checks are Args': a wrong command line is a usage error (exit 2).
		Args: func(c *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(c, args); err != nil {
				return err
			}
			o.Name = args[0]
			_, err := o.Object(f.Namespace())
			return err
		},
		RunE: func(c *cobra.Command, args []string) error {
			s, err := o.Object(f.Namespace())
			if err != nil {
				return err
			}
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			if _, err := ark.ArkV1().Schedules(s.Namespace).Create(c.Context(), s, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating schedule %q: %w", s.Name, err)
			}
			fmt.Fprintf(c.OutOrStdout(), "Schedule %q created successfully.\n", s.Name)
			return nil
		},
	}
	c.Flags().StringVar(&o.Schedule, "schedule", "", "A cron expression (UTC) saying when to back up, such as \"0 7 * * *\".")
	c.Flags().StringToStringVar(&o.Labels, "labels", nil, "Labels to put on the schedule object.")
	c.Flags().BoolVar(&o.Paused, "paused", false, "Create the schedule paused: no backup (not even the first) until `ark schedule unpause`.")
	c.Flags().BoolVar(&o.Verify, "verify", false, "Verify each backup once it is done, as `ark backup verify` does (the result is in the backup's status).")
	o.Spec.BindFlags(c)
	_ = c.MarkFlagRequired("schedule")
	return c
}

func newGetCommand(f client.Factory) *cobra.Command {
	return output.GetCommand[arkv1.Schedule, *arkv1.Schedule]{
		Kind:   "Schedule",
		Plural: "schedules",
		List: func(ctx context.Context, selector string) ([]arkv1.Schedule, []error, error) {
			return client.List[arkv1.Schedule](ctx, f, "Schedule", selector)
		},
		Get: func(ctx context.Context, name string) (*arkv1.Schedule, error) {
			return client.Get[arkv1.Schedule](ctx, f, "Schedule", name)
		},
		Columns: output.ScheduleColumns,
		ToList:  func(items []arkv1.Schedule) runtime.Object { return &arkv1.ScheduleList{Items: items} },
	}.Command(completion.Names(f, completion.Schedules, false))
}

func newDescribeCommand(f client.Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "describe NAME...",
		Short:             "Describe schedules",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Schedules, false),
		RunE: func(c *cobra.Command, args []string) error {
			for i, name := range args {
				s, err := client.Get[arkv1.Schedule](c.Context(), f, "Schedule", name)
				if err != nil {
					return fmt.Errorf("getting schedule %q: %w", name, err)
				}
				if i > 0 {
					fmt.Fprintln(c.OutOrStdout(), "---")
				}
				output.DescribeSchedule(c.OutOrStdout(), s, time.Now())
			}
			return nil
		},
	}
}

func newDeleteCommand(f client.Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "delete NAME...",
		Short:             "Delete schedules (their backups stay until they expire)",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Schedules, false),
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := ark.ArkV1().Schedules(f.Namespace()).Delete(c.Context(), name, metav1.DeleteOptions{}); err != nil {
					return fmt.Errorf("deleting schedule %q: %w", name, err)
				}
				fmt.Fprintf(c.OutOrStdout(), "Schedule %q deleted.\n", name)
			}
			return nil
		},
	}
}
