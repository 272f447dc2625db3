// Package completion completes the names of backups, restores and schedules
// in shell completion (`ark completion bash|zsh|fish`).
package completion

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/tolerant"
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
		// Names only, from the objects' metadata: an object whose spec cannot
		// be decoded still completes.
		dyn, err := f.DynamicClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		ctx := c.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		kindName := map[Kind]string{Backups: "Backup", Restores: "Restore", Schedules: "Schedule"}[kind]
		list, err := dyn.Resource(tolerant.Resource(kindName)).Namespace(f.Namespace()).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		for _, item := range list.Items {
			names = append(names, item.GetName())
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
