// Package completion completes the names of backups, restores and schedules
// in shell completion (`ark completion bash|zsh|fish`).
package completion

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/heptio/ark/pkg/client"
)

// Kind is what a command's arguments name.
type Kind int

// Kinds of names.
const (
	Backups Kind = iota
	Restores
	Schedules
)

// Names returns a ValidArgsFunction completing names of kind; with single,
// only the first argument is completed.
func Names(f client.Factory, kind Kind, single bool) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if single && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ark, err := f.ArkClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		ctx := c.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		var names []string
		v1 := ark.ArkV1()
		switch kind {
		case Backups:
			list, err := v1.Backups(f.Namespace()).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			for _, b := range list.Items {
				names = append(names, b.Name)
			}
		case Restores:
			list, err := v1.Restores(f.Namespace()).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			for _, r := range list.Items {
				names = append(names, r.Name)
			}
		case Schedules:
			list, err := v1.Schedules(f.Namespace()).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			for _, s := range list.Items {
				names = append(names, s.Name)
			}
		}
		return filter(names, prefix, args), cobra.ShellCompDirectiveNoFileComp
	}
}

// filter keeps the names that start with prefix and are not given already.
func filter(names []string, prefix string, given []string) []string {
	seen := map[string]bool{}
	for _, g := range given {
		seen[g] = true
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && !seen[n] {
			out = append(out, n)
		}
	}
	return out
}
