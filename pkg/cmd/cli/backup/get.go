package backup

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/output"
)

// NewGetCommand returns `ark backup get [NAME...]`.
func NewGetCommand(f client.Factory) *cobra.Command {
	var selector string
	c := &cobra.Command{
		Use:               "get [NAME...]",
		Short:             "Get backups",
		ValidArgsFunction: completion.Names(f, completion.Backups, false),
		RunE: func(c *cobra.Command, args []string) error {
			format, err := output.Format(c)
			if err != nil {
				return err
			}
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			list := &arkv1.BackupList{}
			if len(args) == 0 {
				if list, err = ark.ArkV1().Backups(f.Namespace()).List(c.Context(), metav1.ListOptions{LabelSelector: selector}); err != nil {
					return fmt.Errorf("listing backups: %w", err)
				}
			}
			for _, name := range args {
				b, err := ark.ArkV1().Backups(f.Namespace()).Get(c.Context(), name, metav1.GetOptions{})
				if err != nil {
					return fmt.Errorf("getting backup %q: %w", name, err)
				}
				list.Items = append(list.Items, *b)
			}
			return output.Backups(c.OutOrStdout(), list, format, time.Now())
		},
	}
	c.Flags().StringVarP(&selector, "selector", "l", "", "Only show backups whose labels match this selector.")
	output.BindFlags(c)
	return c
}
