// Package output prints ark objects as tables, YAML or JSON for the CLI.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

// BindFlags adds -o/--output to a command.
func BindFlags(c *cobra.Command) {
	c.Flags().StringP("output", "o", "table", "Output format: table, yaml or json.")
}

// Format is the value of -o, checked.
func Format(c *cobra.Command) (string, error) {
	f, _ := c.Flags().GetString("output")
	switch f {
	case "", "table":
		return "table", nil
	case "yaml", "json":
		return f, nil
	}
	return "", fmt.Errorf("invalid --output %q: use table, yaml or json", f)
}

// withKind sets apiVersion and kind, which typed clients leave empty, so the
// YAML and JSON can be applied again.
func withKind(obj runtime.Object, kind string) runtime.Object {
	obj.GetObjectKind().SetGroupVersionKind(arkv1.SchemeGroupVersion.WithKind(kind))
	return obj
}

// Encode writes obj as yaml or json.
func Encode(w io.Writer, obj runtime.Object, format string) error {
	data, err := json.MarshalIndent(obj, "", "    ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// Timestamp formats a time the way the seeds' tables show it: "2017-07-27 20:05:24 +0000 UTC".
func Timestamp(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "<never>"
	}
	return t.UTC().Truncate(time.Second).Format("2006-01-02 15:04:05 -0700 MST")
}

// Selector formats a label selector, "<none>" when there is none.
func Selector(s *metav1.LabelSelector) string {
	if s == nil {
		return "<none>"
	}
	return metav1.FormatLabelSelector(s)
}

// Expires says how long until t, e.g. "29d", or "<expired>".
func Expires(t *metav1.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "n/a"
	}
	d := t.Sub(now)
	if d <= 0 {
		return "<expired>"
	}
	return HumanDuration(d)
}

// HumanDuration rounds d to its largest unit: 29d, 5h, 12m, 40s.
func HumanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// table writes aligned columns.
type table struct {
	w    *tabwriter.Writer
	rows [][]string
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)}
	t.rows = append(t.rows, header)
	return t
}

func (t *table) add(cols ...string) { t.rows = append(t.rows, cols) }

func (t *table) flush() error {
	for _, r := range t.rows {
		if _, err := fmt.Fprintln(t.w, strings.Join(r, "\t")); err != nil {
			return err
		}
	}
	return t.w.Flush()
}

// newestFirst sorts by creation time, newest first, then by name.
func newestFirst[T any](items []T, meta func(*T) *metav1.ObjectMeta) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := meta(&items[i]), meta(&items[j])
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}
