package output

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

// GetCommand describes `ark <noun> get [NAME...]` for one kind, printed as kubectl prints:
// a table by default, or any of cli-runtime's formats (PrintFlags).
type GetCommand[T any, PT interface {
	*T
	runtime.Object
	metav1.Object
}] struct {
	// Kind is the kind: "Backup".
	Kind string
	// Plural names the kind in help and messages: "backups".
	Plural string
	// List lists the objects matching a label selector; those that cannot be
	// read come apart, in bad, and are shown as warnings.
	List func(ctx context.Context, selector string) (items []T, bad []error, err error)
	// Get reads one object by name; an error matching apierrors.IsNotFound when there is none.
	Get func(ctx context.Context, name string) (*T, error)
	// Columns are the table's columns at a time.
	Columns func(now time.Time) Columns[T]
	// ToList wraps items in the kind's list type (BackupList, ...).
	ToList func(items []T) runtime.Object
	// Now is the time the table is printed at (relative ages); nil means time.Now.
	Now func() time.Time
}

// Command builds the cobra command. With no name it prints every object (or those
// matching -l) as a list; with one name, that object; with several, a list of them. A
// name that does not exist is an error ("backup NAME not found") after the others are
// printed. An empty result prints "No <plural> found." on stderr in table and name
// output, as kubectl does, and an empty list in the other formats.
func (g GetCommand[T, PT]) Command(complete func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)) *cobra.Command {
	var selector string
	pf := NewPrintFlags()
	singular := strings.ToLower(g.Kind)
	c := &cobra.Command{
		Use:               "get [NAME...]",
		Short:             "Get " + g.Plural,
		ValidArgsFunction: complete,
		Example: fmt.Sprintf(`  ark %[1]s get
  ark %[1]s get NAME -o yaml
  ark %[1]s get -l app=nginx -o wide --show-labels
  ark %[1]s get -o jsonpath='{.items[*].metadata.name}'`, singular),
		// The flag checks are Args': a wrong command line is a usage error (exit 2).
		Args: func(c *cobra.Command, args []string) error {
			if err := pf.Validate(); err != nil {
				return err
			}
			if len(args) > 0 && selector != "" {
				return errors.New("names and --selector (-l) cannot be used together: give either names or a selector")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			items, errs := g.read(c, args, selector)
			now := time.Now
			if g.Now != nil {
				now = g.Now
			}
			if err := g.print(c, pf, items, len(args) == 1, now()); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().StringVarP(&selector, "selector", "l", "", "Only show "+g.Plural+" whose labels match this selector, such as app=nginx (not with names).")
	pf.AddFlags(c)
	return c
}

// read returns the objects named, or listed; a failed list is the only error, unless
// names are given: then each name that cannot be read is an error.
func (g GetCommand[T, PT]) read(c *cobra.Command, names []string, selector string) ([]T, []error) {
	singular := strings.ToLower(g.Kind)
	if len(names) == 0 {
		items, bad, err := g.List(c.Context(), selector)
		if err != nil {
			return nil, []error{fmt.Errorf("listing %s: %w", g.Plural, err)}
		}
		for _, b := range bad {
			fmt.Fprintf(c.ErrOrStderr(), "Warning: %v\n", b)
		}
		newestFirst[T, PT](items)
		return items, nil
	}
	var items []T
	var errs []error
	for _, name := range names {
		item, err := g.Get(c.Context(), name)
		switch {
		case apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("%s %s not found", singular, name))
		case err != nil:
			errs = append(errs, fmt.Errorf("getting %s %q: %w", singular, name, err))
		default:
			items = append(items, *item)
		}
	}
	return items, errs
}

func (g GetCommand[T, PT]) print(c *cobra.Command, pf *PrintFlags, items []T, single bool, now time.Time) error {
	if len(items) == 0 {
		if !single && (pf.HumanReadable() || pf.Format() == "name") {
			fmt.Fprintf(c.ErrOrStderr(), "No %s found.\n", g.Plural)
			return nil
		}
		if single {
			return nil // the name was not found: that is the error
		}
	}
	if items == nil {
		items = []T{} // an empty list prints "items": [], as kubectl's
	}
	gv := arkv1.SchemeGroupVersion
	for i := range items {
		PT(&items[i]).GetObjectKind().SetGroupVersionKind(gv.WithKind(g.Kind))
	}
	if pf.Format() == "name" && !single {
		// cli-runtime's name printer takes no typed list: one object at a time.
		pr, err := pf.ToPrinter()
		if err != nil {
			return err
		}
		for i := range items {
			if err := pr.PrintObj(PT(&items[i]), c.OutOrStdout()); err != nil {
				return err
			}
		}
		return nil
	}
	var obj runtime.Object
	if single {
		obj = PT(&items[0])
	} else {
		obj = g.ToList(items)
		obj.GetObjectKind().SetGroupVersionKind(gv.WithKind(g.Kind + "List"))
	}
	table := g.Columns(now).Table(items, func(p *T) runtime.Object { return PT(p) })
	return pf.Print(c.OutOrStdout(), obj, table)
}

// newestFirst sorts by creation time, newest first, then by name.
func newestFirst[T any, PT interface {
	*T
	metav1.Object
}](items []T) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := PT(&items[i]), PT(&items[j])
		ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
		if !ta.Equal(&tb) {
			return tb.Before(&ta)
		}
		return a.GetName() < b.GetName()
	})
}
