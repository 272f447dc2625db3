package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/completion"
	"github.com/heptio/ark/pkg/cmd/util/download"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	"github.com/heptio/ark/pkg/persistence"
)

// NewLogsCommand returns `ark backup logs NAME`.
func NewLogsCommand(f client.Factory) *cobra.Command {
	o := &download.LogOptions{}
	c := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a backup's log: what was included, skipped and why",
		Example: `  ark backup logs nginx-backup
  ark backup logs nginx-backup --level warning
  ark backup logs nginx-backup --grep 'namespace=app' -o json`,
		Args:              o.Args,
		ValidArgsFunction: completion.Names(f, completion.Backups, true),
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			return o.Log(c.Context(), ark, f.Namespace(), arkv1.DownloadTargetKindBackupLog, args[0], c.OutOrStdout())
		},
	}
	o.BindFlags(c)
	return c
}

// NewDownloadCommand returns `ark backup download NAME`.
func NewDownloadCommand(f client.Factory) *cobra.Command {
	timeout := time.Minute
	var tlsOpts download.TLSOptions
	var outPath string
	force, raw := false, false
	c := &cobra.Command{
		Use:   "download NAME",
		Short: "Download a backup's tarball to a file",
		Long: `Download a backup's tarball to a file.

For a backup with client-side encryption the file is the plaintext tarball: the request
carries a key made for this download, the server decrypts the backup and encrypts it for
that key alone, and this command decrypts it; no plaintext is written to the bucket.
--raw downloads the tarball as stored (age-encrypted: decrypt it with ` + "`age -d -i KEYFILE`" + `).`,
		Example: `  ark backup download nginx-backup
  ark backup download nginx-backup --raw -o nginx-backup.tar.gz.age`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completion.Names(f, completion.Backups, true),
		RunE: func(c *cobra.Command, args []string) error {
			ark, err := f.ArkClient()
			if err != nil {
				return err
			}
			if outPath == "" {
				outPath = args[0] + "-data.tar.gz"
				if raw {
					outPath += ".age"
				}
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			file, err := os.OpenFile(outPath, flags, 0o600)
			if err != nil {
				return err
			}
			opts := []download.Option{download.WithTLS(&tlsOpts)}
			if raw {
				opts = append(opts, download.Raw())
			}
			err = download.Stream(c.Context(), ark, f.Namespace(), arkv1.DownloadTargetKindBackupContents, args[0], file, false, timeout, opts...)
			if cerr := file.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = verifyDownload(c.Context(), ark, f.Namespace(), args[0], outPath, raw, c)
			}
			if err != nil {
				os.Remove(outPath)
				return err
			}
			c.Printf("Backup %s has been successfully downloaded to %s\n", args[0], outPath)
			return nil
		},
	}
	c.Flags().StringVarP(&outPath, "output", "o", "", "The file to write (default NAME-data.tar.gz).")
	c.Flags().BoolVar(&force, "force", false, "Overwrite the file if it exists.")
	c.Flags().BoolVar(&raw, "raw", false, "Download the tarball as stored in the bucket: encrypted, for a backup with client-side encryption (default NAME-data.tar.gz.age).")
	c.Flags().DurationVar(&timeout, "timeout", timeout, "How long to wait for the server to answer.")
	tlsOpts.BindFlags(c.Flags())
	return c
}

// verifyDownload checks the downloaded tarball against the size and SHA-256 recorded in
// the backup's status (from its ark-backup.json); a backup that records none (taken by an
// older ark or by Velero) is said to be unchecked. The checksum is of the stored bytes: for
// the plaintext of an encrypted backup the server checked them before encrypting it for
// this client, and age authenticated what came.
func verifyDownload(ctx context.Context, ark arkclient.Interface, ns, name, path string, raw bool, c *cobra.Command) error {
	b, err := ark.ArkV1().Backups(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil || b.Status.Contents == nil {
		c.PrintErrf("Note: no checksum of backup %s is recorded; the download was not verified.\n", name)
		return nil
	}
	if b.Status.Encryption != nil && !raw {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, persistence.VerifyContents(f, *b.Status.Contents, name)); err != nil {
		return fmt.Errorf("the downloaded file was removed: %w", err)
	}
	return nil
}
