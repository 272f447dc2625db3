// Package output prints ark objects for the CLI: tables and every kubectl output format
// (through k8s.io/cli-runtime's printers), and descriptions.
package output

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

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
