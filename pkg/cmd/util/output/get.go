package output

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// GetCommand describes `ark <noun> get [NAME...]` for one kind.
type GetCommand[T any] struct {
	// Plural names the kind in help and errors: "backups".
	Plural string
	// List lists the objects matching a label selector; those that cannot be
	// read come apart, in bad, and are shown as warnings.
	List func(ctx context.Context, selector string) (items []T, bad []error, err error)
	// Get reads one object by name.
	Get func(ctx context.Context, name string) (*T, error)
	// Print writes the objects in a format (table, yaml, json) at a time.
	Print func(w io.Writer, items []T, format string, now time.Time) error
}

// Command builds the cobra command: all objects (optionally by selector), or
// the named ones, printed as -o says.
func (g GetCommand[T]) Command(complete func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)) *cobra.Command {
	var selector string
	c := &cobra.Command{
		Use:               "get [NAME...]",
		Short:             "Get " + g.Plural,
		ValidArgsFunction: complete,
		RunE: func(c *cobra.Command, args []string) error {
			format, err := Format(c)
			if err != nil {
				return err
			}
			var items []T
			if len(args) == 0 {
				var bad []error
				if items, bad, err = g.List(c.Context(), selector); err != nil {
					return fmt.Errorf("listing %s: %w", g.Plural, err)
				}
				for _, b := range bad {
					fmt.Fprintf(c.ErrOrStderr(), "Warning: %v\n", b)
				}
			}
			for _, name := range args {
				item, err := g.Get(c.Context(), name)
				if err != nil {
					return fmt.Errorf("getting %q: %w", name, err)
				}
				items = append(items, *item)
			}
			return g.Print(c.OutOrStdout(), items, format, time.Now())
		},
	}
	c.Flags().StringVarP(&selector, "selector", "l", "", "Only show "+g.Plural+" whose labels match this selector.")
	BindFlags(c)
	return c
}
