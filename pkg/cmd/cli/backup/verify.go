package backup

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/wait"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/label"
)

// NewVerifyCommand returns `ark backup verify NAME`.
func NewVerifyCommand(f client.Factory) *cobra.Command {
	noWait := false
	c := &cobra.Command{
		Use:   "verify NAME",
		Short: "Check that a backup is whole and restorable, without restoring it",
		Long: `Asks the server to verify a backup, by creating a BackupVerificationRequest: the server
reads the backup's tarball from the bucket and checks its size and SHA-256 against the
backup's metadata, decodes every item, and checks that every volume snapshot the backup
names still exists (and carries its tag). The result and its time are recorded in the
Backup's status (lastVerified, verification) and shown by ` + "`ark backup describe`" + `.

The command waits for the result and exits non-zero if the verification failed.`,
		Example: `  ark backup verify daily-20261121070000
  ark backup verify nginx-backup --no-wait`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Backups, true),
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			ctx, name, ns := c.Context(), args[0], f.Namespace()
			reqs := ark.ArkV1().BackupVerificationRequests(ns)
			req, err := reqs.Create(ctx, &arkv1.BackupVerificationRequest{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: ns, Name: fmt.Sprintf("%s-%s", truncate(name, 240), rand.String(6)),
					Labels: map[string]string{format.DeleteBackupRequestBackupLabel: label.ValidValue(name)},
				},
				Spec: arkv1.BackupVerificationRequestSpec{BackupName: name},
			}, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("creating a verification request: %w", err)
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "Verification request %q submitted.\n", req.Name)
			if noWait {
				fmt.Fprintf(out, "Follow it with `kubectl -n %s get backupverificationrequests %s`.\n", ns, req.Name)
				return nil
			}
			if _, err := wait.Until(ctx, c.ErrOrStderr(), "Verification of "+name, time.Second, func(ctx context.Context) (wait.State, error) {
				got, err := reqs.Get(ctx, req.Name, metav1.GetOptions{})
				if err != nil {
					return wait.State{}, err
				}
				req = got
				return wait.State{Phase: string(got.Status.Phase), Final: got.Status.Phase == arkv1.BackupVerificationRequestPhaseProcessed}, nil
			}); err != nil {
				return err
			}
			v := req.Status.Verification
			if v == nil {
				return fmt.Errorf("verification request %q was processed without a result", req.Name)
			}
			PrintVerification(out, name, v)
			if v.Phase != arkv1.BackupVerificationPassed {
				return fmt.Errorf("backup %q failed verification", name)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&noWait, "no-wait", false, "Submit the request and return without waiting for the result.")
	return c
}

// PrintVerification writes a verification's result.
func PrintVerification(w io.Writer, backup string, v *arkv1.BackupVerification) {
	fmt.Fprintf(w, "Backup %s: verification %s (%d items decoded, %d snapshots checked)\n", backup, v.Phase, v.Items, v.Snapshots)
	for _, p := range v.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
