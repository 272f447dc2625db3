package output

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/heptio/ark/pkg/generated/clientset/versioned/scheme"
)

// Human-readable output formats of -o; the others (json, yaml, name, jsonpath=...,
// go-template=..., ...) come from cli-runtime's genericclioptions.PrintFlags.
const (
	FormatTable = "table"
	FormatWide  = "wide"
)

// PrintFlags are kubectl's output flags of a get command: -o table|wide|json|yaml|name|
// jsonpath=...|go-template=...|..., --template, --show-labels, -L/--label-columns, --no-headers.
type PrintFlags struct {
	generic      *genericclioptions.PrintFlags
	ShowLabels   bool
	ColumnLabels []string
	NoHeaders    bool
}

// NewPrintFlags returns the flags with -o table as the default.
func NewPrintFlags() *PrintFlags {
	return &PrintFlags{generic: genericclioptions.NewPrintFlags("").WithTypeSetter(scheme.Scheme).WithDefaultOutput(FormatTable)}
}

// AddFlags binds the flags to c.
func (p *PrintFlags) AddFlags(c *cobra.Command) {
	p.generic.AddFlags(c)
	c.Flags().Lookup("output").Usage = fmt.Sprintf("Output format. One of: (%s).", strings.Join(p.allowedFormats(), ", "))
	c.Flags().BoolVar(&p.ShowLabels, "show-labels", false, "In table output, show all labels as the last column.")
	c.Flags().StringSliceVarP(&p.ColumnLabels, "label-columns", "L", nil, "In table output, a column for each of these label keys (repeat -L or separate keys by commas).")
	c.Flags().BoolVar(&p.NoHeaders, "no-headers", false, "In table output, print no header line.")
}

func (p *PrintFlags) allowedFormats() []string {
	return append([]string{FormatTable, FormatWide}, p.generic.AllowedFormats()...)
}

// Format is the output format asked for: "table" (also for -o ""), "wide", or another.
func (p *PrintFlags) Format() string {
	if f := *p.generic.OutputFormat; f != "" {
		return f
	}
	return FormatTable
}

// HumanReadable says whether the output is a table.
func (p *PrintFlags) HumanReadable() bool {
	f := p.Format()
	return f == FormatTable || f == FormatWide
}

// Validate checks the format before anything is asked of the cluster (GetCommand
// calls it in its cobra Args: a wrong format is a usage error, exit 2).
func (p *PrintFlags) Validate() error {
	_, err := p.ToPrinter()
	return err
}

// ToPrinter returns the printer of the format: a table printer (printers.NewTablePrinter,
// as kubectl prints tables) or cli-runtime's printer of that format. A printer of the
// other formats needs objects whose apiVersion and kind are set (WithKinds).
func (p *PrintFlags) ToPrinter() (printers.ResourcePrinter, error) {
	if p.HumanReadable() {
		return printers.NewTablePrinter(printers.PrintOptions{
			Wide:         p.Format() == FormatWide,
			ShowLabels:   p.ShowLabels,
			ColumnLabels: p.ColumnLabels,
			NoHeaders:    p.NoHeaders,
		}), nil
	}
	pr, err := p.generic.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		allowed := p.allowedFormats()
		slices.Sort(allowed)
		return nil, unknownFormat(p.Format(), allowed)
	}
	return pr, err
}

// CheckFormat returns nil when format is one of allowed, else the error every -o flag of
// ark gives for a format it does not take: `invalid --output "xml": use one of text, json`.
// A command checks it in its cobra Args, so that a wrong format is a usage error (exit 2).
func CheckFormat(format string, allowed ...string) error {
	if slices.Contains(allowed, format) {
		return nil
	}
	return unknownFormat(format, allowed)
}

func unknownFormat(format string, allowed []string) error {
	return fmt.Errorf("invalid --output %q: use one of %s", format, strings.Join(allowed, ", "))
}

// Columns describe a kind's table: the columns, and the cells of one object. Columns of
// priority > 0 are shown with -o wide only.
type Columns[T any] struct {
	Definitions []metav1.TableColumnDefinition
	Row         func(item *T) []any
}

// Table makes the metav1.Table of items, each row keeping its object so that the
// printer can add label columns.
func (c Columns[T]) Table(items []T, object func(*T) runtime.Object) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: c.Definitions}
	for i := range items {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: c.Row(&items[i]), Object: runtime.RawExtension{Object: object(&items[i])}})
	}
	return t
}

// Print writes obj with the printer of the flags. It is a table when the format is
// human-readable (table then is its metav1.Table), else obj itself.
func (p *PrintFlags) Print(w io.Writer, obj runtime.Object, table *metav1.Table) error {
	pr, err := p.ToPrinter()
	if err != nil {
		return err
	}
	if p.HumanReadable() {
		return pr.PrintObj(table, w)
	}
	return pr.PrintObj(obj, w)
}
