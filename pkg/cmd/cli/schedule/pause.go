package schedule

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
)

// newPauseCommand returns `ark schedule pause` (paused true) or `ark schedule unpause`.
func newPauseCommand(f client.Factory, paused bool) *cobra.Command {
	verb, short := "pause", "Pause schedules: they create no backups, their ticks are skipped, until unpaused"
	if !paused {
		verb, short = "unpause", "Unpause schedules: the next backup is at the next cron tick"
	}
	var all bool
	var selector string
	c := &cobra.Command{
		Use:   verb + " NAME... | --all | --selector SELECTOR",
		Short: short,
		Example: fmt.Sprintf(`  ark schedule %[1]s daily
  ark schedule %[1]s --all`, verb),
		ValidArgsFunction: completion.Names(f, completion.Schedules, false),
		// The flag checks are Args': a wrong command line is a usage error (exit 2).
		Args: func(c *cobra.Command, args []string) error {
			ways := 0
			for _, set := range []bool{len(args) > 0, all, selector != ""} {
				if set {
					ways++
				}
			}
			if ways != 1 {
				return errors.New("name the schedules to " + verb + " in one way: NAME..., --all, or --selector")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			schedules := ark.ArkV1().Schedules(f.Namespace())
			names := args
			if len(names) == 0 {
				list, err := schedules.List(c.Context(), metav1.ListOptions{LabelSelector: selector})
				if err != nil {
					return fmt.Errorf("listing schedules: %w", err)
				}
				for _, s := range list.Items {
					names = append(names, s.Name)
				}
				if len(names) == 0 {
					fmt.Fprintln(c.ErrOrStderr(), "No schedules found.")
					return nil
				}
			}
			return SetPaused(c.Context(), c.OutOrStdout(), schedules, names, paused)
		},
	}
	c.Flags().BoolVar(&all, "all", false, "Every schedule in the namespace.")
	c.Flags().StringVarP(&selector, "selector", "l", "", "The schedules whose labels match this selector.")
	return c
}

// SetPaused sets spec.paused of the named schedules (a merge patch, so that it never
// conflicts with the server's status updates). A name that does not exist is an error
// ("schedule NAME not found"); the others are still changed.
func SetPaused(ctx context.Context, out io.Writer, schedules arkv1client.ScheduleInterface, names []string, paused bool) error {
	patch := []byte(fmt.Sprintf(`{"spec":{"paused":%t}}`, paused))
	done := "unpaused"
	if paused {
		done = "paused"
	}
	var errs []error
	for _, name := range names {
		_, err := schedules.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		switch {
		case apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("schedule %s not found", name))
		case err != nil:
			errs = append(errs, fmt.Errorf("updating schedule %q: %w", name, err))
		default:
			fmt.Fprintf(out, "Schedule %q %s.\n", name, done)
		}
	}
	return errors.Join(errs...)
}
