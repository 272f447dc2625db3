// Package version is `ark version`.
package version

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/buildinfo"
	"github.com/heptio/ark/pkg/client"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
)

// NewCommand returns `ark version`.
func NewCommand(f client.Factory) *cobra.Command {
	clientOnly := false
	timeout := 10 * time.Second
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of the ark client and of the running ark server",
		Long: `Print the version of this binary (Client) and of the ark server running in the namespace
(Server). The server is asked through a ServerStatusRequest, which the server answers and
deletes a minute later; when no server answers within --timeout the command fails (exit 1)
after printing the client's version.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			w := c.OutOrStdout()
			fmt.Fprintln(w, "Client:")
			Print(w)
			if clientOnly {
				return nil
			}
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			status, err := ServerStatus(c.Context(), ark, f.Namespace(), timeout)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "\nServer:")
			fmt.Fprintf(w, "Version:     %s\n", status.ServerVersion)
			fmt.Fprintf(w, "Git commit:  %s\n", status.GitCommit)
			return nil
		},
	}
	c.Flags().BoolVar(&clientOnly, "client-only", false, "Print only the client's version; do not contact the server.")
	c.Flags().DurationVar(&timeout, "timeout", timeout, "How long to wait for the server to answer.")
	return c
}

// Print writes the version, git commit and Go version of this binary.
func Print(w io.Writer) {
	fmt.Fprintf(w, "Version:     %s\n", buildinfo.Version)
	fmt.Fprintf(w, "Git commit:  %s (%s)\n", buildinfo.GitSHA, buildinfo.GitTreeState)
	fmt.Fprintf(w, "Go version:  %s\n", buildinfo.GoVersion())
}

// ServerStatus creates a ServerStatusRequest in namespace and waits at most
// timeout for the server's answer; it deletes the request either way.
func ServerStatus(ctx context.Context, client arkclient.Interface, namespace string, timeout time.Duration) (*arkv1.ServerStatusRequestStatus, error) {
	reqs := client.ArkV1().ServerStatusRequests(namespace)
	req, err := reqs.Create(ctx, &arkv1.ServerStatusRequest{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: "ark-version-"}}, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("asking the server for its version: %w (is ark installed in namespace %q? see `ark install`)", err, namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("asking the server for its version: %w", err)
	}
	defer reqs.Delete(context.WithoutCancel(ctx), req.Name, metav1.DeleteOptions{}) //nolint:errcheck // the server deletes it anyway
	deadline := time.Now().Add(timeout)
	for req.Status.Phase != arkv1.ServerStatusRequestPhaseProcessed {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no ark server in namespace %q answered within %s: is `ark server` running?", namespace, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if req, err = reqs.Get(ctx, req.Name, metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("reading the server status request: %w", err)
		}
	}
	return &req.Status, nil
}
