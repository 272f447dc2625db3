package backup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/wait"
	"github.com/heptio/ark/pkg/format"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	"github.com/heptio/ark/pkg/persistence"
)

// DeleteOptions are the inputs of `ark backup delete`.
type DeleteOptions struct {
	Names    []string
	All      bool
	Selector string
	Confirm  bool
	Wait     bool

	in     io.Reader // the confirmation's answer (the command's stdin)
	errOut io.Writer // --wait's progress lines (the command's stderr)
	// interval is how often --wait looks at the requests (0: every second).
	interval time.Duration
	// terminal says whether in is a terminal: without one and without --confirm
	// nothing is deleted (a script must say --confirm).
	terminal func() bool
}

// isTerminal says whether r is a terminal (golang.org/x/term).
func isTerminal(r io.Reader) bool {
	f, ok := r.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewDeleteCommand returns `ark backup delete NAME... | --all | --selector`.
func NewDeleteCommand(f client.Factory) *cobra.Command {
	o := &DeleteOptions{}
	c := &cobra.Command{
		Use:   "delete NAME... | --all | --selector SELECTOR",
		Short: "Delete backups, with their files, snapshots and restores",
		Long: `Without --confirm, asks on the terminal first; without a terminal (a script, a pipe)
it refuses and deletes nothing. A named backup that does not exist is an error.

Asks the server to delete backups completely, by creating one DeleteBackupRequest per
backup: the server removes the backup's files from the bucket (first marking it as no longer
whole), its volume snapshots (only those the cloud says carry its tag), the files and
objects of its restores, then the Backup object. A backup still InProgress is deleted once it
ends. With --wait the command waits until the server has processed each request and
says whether the backup was deleted; without it, follow a request with
` + "`kubectl get deletebackuprequests -n <namespace> -o wide`" + `.

In multi-tenant mode (the server's default) the server deletes a backup only for its
requester (whoever created it, or the schedule that made it) or for a user allowed to delete
backups (delete on backups.ark.heptio.com) in the server's namespace. Any other request is
refused: it ends Processed with the reason in its errors, and nothing is deleted.

This is the only way, besides a backup's TTL, to delete a backup's data: deleting the
Backup object with kubectl (or its namespace) removes only the object, and the server's
backup sync brings it back from the bucket.`,
		Example: `  ark backup delete nginx-backup
  ark backup delete --selector app=nginx --confirm
  ark backup delete --all
  ark backup delete nginx-backup --confirm --wait`,
		ValidArgsFunction: completion.Names(f, completion.Backups, false),
		// The flag checks are Args': a wrong command line is a usage error (exit 2).
		Args: func(c *cobra.Command, args []string) error {
			o.Names = args
			o.in = c.InOrStdin()
			o.errOut = c.ErrOrStderr()
			o.terminal = func() bool { return isTerminal(o.in) }
			return o.Validate()
		},
		RunE: func(c *cobra.Command, args []string) error {
			return o.Run(c.Context(), c.OutOrStdout(), f)
		},
	}
	o.BindFlags(c)
	return c
}

// BindFlags adds the command's flags.
func (o *DeleteOptions) BindFlags(c *cobra.Command) {
	c.Flags().BoolVar(&o.All, "all", false, "Delete every backup in the namespace.")
	c.Flags().StringVarP(&o.Selector, "selector", "l", "", "Delete the backups whose labels match this selector, such as app=nginx.")
	c.Flags().BoolVar(&o.Confirm, "confirm", false, "Do not ask for confirmation (required when stdin is not a terminal).")
	c.Flags().BoolVarP(&o.Wait, "wait", "w", false, "Wait until the server has processed each request; exit non-zero unless every backup was deleted.")
}

// Validate checks that exactly one way of naming backups is used, and the names.
func (o *DeleteOptions) Validate() error {
	ways := 0
	for _, set := range []bool{len(o.Names) > 0, o.All, o.Selector != ""} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return errors.New("name the backups to delete in one way: NAME..., --all, or --selector")
	}
	for _, n := range o.Names {
		if err := persistence.ValidateName("backup", n); err != nil {
			return err
		}
	}
	return nil
}

// Run resolves the backups, asks for confirmation and creates the requests.
func (o *DeleteOptions) Run(ctx context.Context, out io.Writer, f client.Factory) error {
	ark, err := f.ArkClient()
	if err != nil {
		return err
	}
	return o.run(ctx, out, ark, f.Namespace())
}

func (o *DeleteOptions) run(ctx context.Context, out io.Writer, ark arkclient.Interface, ns string) error {
	var errs []error
	var names []string
	if len(o.Names) == 0 {
		selector := o.Selector
		list, err := ark.ArkV1().Backups(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return fmt.Errorf("listing backups: %w", err)
		}
		for _, b := range list.Items {
			names = append(names, b.Name)
		}
		if len(names) == 0 {
			fmt.Fprintln(out, "No backups to delete.")
			return nil
		}
	}
	for _, name := range o.Names {
		_, err := ark.ArkV1().Backups(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("backup %s not found", name))
		case err != nil:
			errs = append(errs, fmt.Errorf("getting backup %q: %w", name, err))
		default:
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return errors.Join(errs...)
	}
	if !o.Confirm {
		if o.terminal != nil && !o.terminal() {
			return errors.Join(append(errs, fmt.Errorf("not deleting %d backup(s) without confirmation: stdin is not a terminal; add --confirm", len(names)))...)
		}
		fmt.Fprintf(out, "You are about to delete %d backup(s), with their files in the bucket, their volume snapshots and their restores:\n  %s\n",
			len(names), strings.Join(names, "\n  "))
		fmt.Fprint(out, "Are you sure you want to continue (y/N)? ")
		answer, _ := bufio.NewReader(o.in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(out, "Cancelled: nothing was deleted.")
			return errors.Join(errs...)
		}
	}
	var created []*arkv1.DeleteBackupRequest
	for _, name := range names {
		req := &arkv1.DeleteBackupRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: requestPrefix(name)},
			Spec:       arkv1.DeleteBackupRequestSpec{BackupName: name},
		}
		if len(validation.IsValidLabelValue(name)) == 0 {
			req.Labels = map[string]string{format.DeleteBackupRequestBackupLabel: name}
		}
		req, err := ark.ArkV1().DeleteBackupRequests(ns).Create(ctx, req, metav1.CreateOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("requesting the deletion of backup %q: %w", name, err))
			continue
		}
		fmt.Fprintf(out, "Request to delete backup %q submitted (DeleteBackupRequest %s).\n", name, req.Name)
		created = append(created, req)
	}
	if len(created) == 0 {
		return errors.Join(errs...)
	}
	if !o.Wait {
		fmt.Fprintf(out, "The server deletes in the background (--wait waits for it). Follow the requests with `kubectl -n %s get deletebackuprequests -o wide`: one the server refuses ends Processed, the reason in its errors, and deletes nothing.\n", ns)
		return errors.Join(errs...)
	}
	for _, req := range created {
		if err := o.waitFor(ctx, out, ark, req); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitFor waits until the server has processed req, and says whether its
// backup was deleted: a request the server took up records its target
// (format.TargetObjectAnnotation) before deleting anything, so a processed
// one without it (refused, or nothing found) deleted nothing.
func (o *DeleteOptions) waitFor(ctx context.Context, out io.Writer, ark arkclient.Interface, req *arkv1.DeleteBackupRequest) error {
	interval, progress := o.interval, o.errOut
	if interval == 0 {
		interval = time.Second
	}
	if progress == nil {
		progress = io.Discard
	}
	name := req.Spec.BackupName
	if _, err := wait.Until(ctx, progress, fmt.Sprintf("Deletion of %s", name), interval, func(ctx context.Context) (wait.State, error) {
		got, err := ark.ArkV1().DeleteBackupRequests(req.Namespace).Get(ctx, req.Name, metav1.GetOptions{})
		if err != nil {
			return wait.State{}, fmt.Errorf("following DeleteBackupRequest %s: %w", req.Name, err)
		}
		req = got
		return wait.State{Phase: string(got.Status.Phase), Final: got.Status.Phase == arkv1.DeleteBackupRequestPhaseProcessed}, nil
	}); err != nil {
		return err
	}
	if _, carriedOut := req.Annotations[format.TargetObjectAnnotation]; !carriedOut {
		return fmt.Errorf("backup %q was not deleted: %s", name, strings.Join(req.Status.Errors, "; "))
	}
	if len(req.Status.Errors) == 0 {
		fmt.Fprintf(out, "Backup %q deleted.\n", name)
		return nil
	}
	fmt.Fprintf(out, "Backup %q deleted; left alone:\n  - %s\n", name, strings.Join(req.Status.Errors, "\n  - "))
	return nil
}

// requestPrefix is the generateName of a backup's request: its name, cut so that the
// generated name stays a valid object name.
func requestPrefix(backup string) string {
	const maxPrefix = validation.DNS1123SubdomainMaxLength - 6 // generateName appends 5 characters
	p := backup + "-"
	if len(p) > maxPrefix {
		p = strings.TrimRight(p[:maxPrefix], ".-") + "-"
	}
	return p
}
