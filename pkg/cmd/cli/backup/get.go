package backup

import (
	"context"
	"io"
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
	return output.GetCommand[arkv1.Backup]{
		Plural: "backups",
		List: func(ctx context.Context, selector string) ([]arkv1.Backup, error) {
			ark, err := f.ArkClient()
			if err != nil {
				return nil, err
			}
			list, err := ark.ArkV1().Backups(f.Namespace()).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return nil, err
			}
			return list.Items, nil
		},
		Get: func(ctx context.Context, name string) (*arkv1.Backup, error) {
			ark, err := f.ArkClient()
			if err != nil {
				return nil, err
			}
			return ark.ArkV1().Backups(f.Namespace()).Get(ctx, name, metav1.GetOptions{})
		},
		Print: func(w io.Writer, items []arkv1.Backup, format string, now time.Time) error {
			return output.Backups(w, &arkv1.BackupList{Items: items}, format, now)
		},
	}.Command(completion.Names(f, completion.Backups, false))
}
