package backup

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/output"
)

// NewGetCommand returns `ark backup get [NAME...]`.
func NewGetCommand(f client.Factory) *cobra.Command {
	return output.GetCommand[arkv1.Backup, *arkv1.Backup]{
		Kind:   "Backup",
		Plural: "backups",
		List: func(ctx context.Context, selector string) ([]arkv1.Backup, []error, error) {
			return client.List[arkv1.Backup](ctx, f, "Backup", selector)
		},
		Get: func(ctx context.Context, name string) (*arkv1.Backup, error) {
			return client.Get[arkv1.Backup](ctx, f, "Backup", name)
		},
		Columns: output.BackupColumns,
		ToList:  func(items []arkv1.Backup) runtime.Object { return &arkv1.BackupList{Items: items} },
	}.Command(completion.Names(f, completion.Backups, false))
}
