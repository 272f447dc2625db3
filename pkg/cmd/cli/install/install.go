// Package install is `ark install` and `ark uninstall` (package
// pkg/install renders and applies the objects).
package install

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/cmd/util/output"
	"github.com/heptio/ark/pkg/install"
)

// Options are the inputs of `ark install`.
type Options struct {
	install.Options
	SecretFile string
	NoSecret   bool
	// EncryptionIdentityFile is the age identities file stored in the encryption Secret.
	EncryptionIdentityFile string
	DryRun                 bool
	Output                 string
	Wait                   bool
	Timeout                time.Duration

	objs []*unstructured.Unstructured // rendered by Validate
}

// NewCommand returns `ark install`.
func NewCommand(f client.Factory) *cobra.Command {
	o := &Options{Timeout: 5 * time.Minute}
	c := &cobra.Command{
		Use:   "install --provider PROVIDER --bucket BUCKET [flags]",
		Short: "Install the ark server and everything it needs into the cluster",
		Long: `Applies, with server-side apply (field manager "ark-install"), everything the ark server
needs: the namespace (--namespace, default heptio-ark), the ark CRDs, the ServiceAccount and
its RBAC, the Secret cloud-credentials (from --secret-file), the Config "default" and the
server's Deployment. The objects are those of examples/common/ (00-prereqs.yaml,
10-deployment.yaml and config/<provider>.yaml), embedded in this binary, with only what the
flags say changed. Running it again updates what changed and nothing else.

Outside heptio-ark, the ClusterRole and ClusterRoleBinding are named ark-<namespace>.
With --dry-run nothing is applied; the objects are printed (-o yaml or json), e.g. for
kubectl apply -f - or for review. --wait waits until the server is ready (its /readyz:
caches synced, bucket reachable). The Deployment passes Pod Security "restricted".

Credentials: --secret-file is the provider's credentials file (an AWS shared credentials
file, a GCP service-account key), stored under the key "cloud" of the Secret
cloud-credentials and mounted at /credentials/cloud. For the filesystem provider the bucket
is an emptyDir of the pod: for trying ark out only, its backups go with the pod.

Encryption: --encryption-recipient (repeatable) encrypts every backup for those age keys or
cloud KMS keys (awskms://, gcpkms://, azurekeyvault://); --encryption-identity-file stores the
age identities that decrypt them in the Secret --encryption-identity-secret (default
ark-encryption-identities). A KMS key decrypts what it wrapped: with KMS keys alone no Secret
is needed. See README, Encryption.`,
		Example: `  ark install --provider aws --bucket my-ark-bucket --backup-location-config region=us-east-1 \
      --snapshot-location-config region=us-east-1 --secret-file ./credentials-ark --wait
  ark install --provider aws --bucket ark --secret-file ./credentials-minio \
      --backup-location-config region=minio,s3ForcePathStyle=true,s3Url=http://minio.heptio-ark.svc:9000,publicUrl=http://localhost:9000
  ark install --provider gcp --bucket my-ark-bucket --secret-file ./credentials-ark --dry-run -o yaml
  age-keygen -o ark-key.txt
  ark install --provider aws --bucket ark --secret-file ./credentials-ark \
      --encryption-recipient "$(age-keygen -y ark-key.txt)" --encryption-recipient age1...breakglass \
      --encryption-identity-file ark-key.txt`,
		// The flag checks are Args': a wrong command line is a usage error
		// (exit 2) and nothing is applied.
		Args: func(c *cobra.Command, args []string) error {
			if err := cobra.NoArgs(c, args); err != nil {
				return err
			}
			o.Namespace = f.Namespace()
			return o.Validate()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return o.Run(c.Context(), c.OutOrStdout(), f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Provider, "provider", "", "The object storage provider: aws (S3, MinIO), gcp, azure or filesystem. Required.")
	fl.StringVar(&o.Bucket, "bucket", "", "The bucket (Azure: container; filesystem: directory) that holds the backups. Required.")
	fl.StringVar(&o.Prefix, "prefix", "", "A path inside the bucket under which this cluster's backups live.")
	fl.StringToStringVar(&o.BackupLocationConfig, "backup-location-config", nil, "The object storage provider's config, key=value,... (e.g. region=us-east-1,s3Url=...,publicUrl=...); see README, Providers.")
	fl.StringToStringVar(&o.SnapshotLocationConfig, "snapshot-location-config", nil, "The volume snapshot provider's config, key=value,...; when given, volumes are snapshotted.")
	fl.StringVar(&o.SnapshotProvider, "snapshot-provider", "", "The volume snapshot provider (aws, gcp, azure or csi); default --provider when --snapshot-location-config is given.")
	fl.StringVar(&o.SecretFile, "secret-file", "", "The provider's credentials file, stored in the Secret cloud-credentials (key \"cloud\").")
	fl.BoolVar(&o.NoSecret, "no-secret", false, "Create no Secret: the server gets its credentials otherwise (workload identity, instance role). Needed without --secret-file for aws, gcp and azure.")
	fl.StringVar(&o.Image, "image", "", "The server's image. Default "+install.DefaultImage()+", the image that make image builds from this tree.")
	fl.StringArrayVar(&o.EncryptionRecipients, "encryption-recipient", nil, "Encrypt backups for this age recipient (age1…, the public key age-keygen prints) or KMS key (awskms://…, gcpkms://…, azurekeyvault://…); repeat it for a second cluster or an offline break-glass key. Any one of them decrypts. See README, Encryption.")
	fl.StringVar(&o.EncryptionIdentitySecret, "encryption-identity-secret", "", "The Secret in the server's namespace (key \"identities\") holding the age identities that decrypt backups. Default "+install.EncryptionSecret+" when encryption is set (none with KMS recipients alone).")
	fl.StringVar(&o.EncryptionIdentityFile, "encryption-identity-file", "", "An age identities file (AGE-SECRET-KEY-1… lines, as age-keygen writes; keep old keys in it after a rotation) to store in that Secret. Without it the Secret must exist.")
	fl.BoolVar(&o.RestoreOnly, "restore-only", false, "Run the server in restore-only mode: it takes no backups and deletes nothing in the bucket.")
	fl.BoolVar(&o.DryRun, "dry-run", false, "Apply nothing: print the objects (see -o).")
	fl.StringVarP(&o.Output, "output", "o", "", "With --dry-run: yaml (default) or json.")
	fl.BoolVar(&o.Wait, "wait", false, "Wait until the server is ready (at most --timeout).")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits.")
	return c
}

// Validate checks the flags, reads --secret-file and renders the objects,
// without asking the cluster; Run applies what it rendered.
func (o *Options) Validate() error {
	// The provider first: its credentials are no question for one that does not exist.
	if err := install.CheckProvider(o.Provider); err != nil {
		return err
	}
	if err := install.CheckSnapshotProvider(o.SnapshotProvider); err != nil {
		return err
	}
	if o.Output != "" && !o.DryRun {
		return errors.New("-o/--output prints the objects and needs --dry-run")
	}
	if o.Output != "" {
		if err := output.CheckFormat(o.Output, "yaml", "json"); err != nil {
			return err
		}
	}
	switch {
	case o.SecretFile != "" && o.NoSecret:
		return errors.New("--secret-file and --no-secret contradict each other")
	case o.SecretFile != "":
		data, err := os.ReadFile(o.SecretFile)
		if err != nil {
			return fmt.Errorf("--secret-file: %w", err)
		}
		o.Credentials = data
	case !o.NoSecret && o.Provider != "" && o.Provider != "filesystem":
		return fmt.Errorf("--provider %s needs credentials: give --secret-file, or --no-secret when the server gets them otherwise (workload identity, instance role)", o.Provider)
	}
	if o.EncryptionIdentityFile != "" {
		data, err := os.ReadFile(o.EncryptionIdentityFile)
		if err != nil {
			return fmt.Errorf("--encryption-identity-file: %w", err)
		}
		o.EncryptionIdentities = data
	}
	objs, err := install.Render(o.Options)
	if err != nil {
		return err
	}
	o.objs = objs
	return nil
}

// Run prints (--dry-run) or applies the objects Validate rendered.
func (o *Options) Run(ctx context.Context, out io.Writer, f client.Factory) error {
	if o.objs == nil {
		if err := o.Validate(); err != nil {
			return err
		}
	}
	objs := o.objs
	if o.DryRun {
		return print(out, objs, o.Output)
	}
	cfg, err := f.ClientConfig()
	if err != nil {
		return err
	}
	kc, err := install.NewClient(cfg)
	if err != nil {
		return err
	}
	if err := kc.Apply(ctx, objs, out); err != nil {
		return err
	}
	if o.Wait {
		fmt.Fprintln(out, "Waiting for the ark server to be ready...")
		if err := kc.WaitReady(ctx, o.Namespace, o.Timeout); err != nil {
			return err
		}
		fmt.Fprintf(out, "The ark server in %s is ready.\n", o.Namespace)
		return nil
	}
	fmt.Fprintf(out, "ark is installed in %s. `kubectl -n %s get deployment %s` shows the server's state; `ark version` answers once it runs.\n",
		o.Namespace, o.Namespace, install.DeploymentName)
	return nil
}

func print(out io.Writer, objs []*unstructured.Unstructured, format string) error {
	if format == "json" {
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o.Object
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	return install.WriteYAML(out, objs)
}

// UninstallOptions are the inputs of `ark uninstall`.
type UninstallOptions struct {
	Confirm  bool
	KeepCRDs bool
	in       io.Reader
}

// NewUninstallCommand returns `ark uninstall`.
func NewUninstallCommand(f client.Factory) *cobra.Command {
	o := &UninstallOptions{}
	c := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the ark server and its objects from the cluster; the bucket's backups stay",
		Long: `Deletes what ark install made: the server's Deployment first (so that it stops before its
objects go), then its namespace with everything in it (the Config, the Secret, and the
Backup, Restore and Schedule objects), the ClusterRole and ClusterRoleBinding, and the ark
CRDs (unless --keep-crds: other ark servers of the cluster need them).

It never deletes data in the bucket, nor volume snapshots: deleting a Backup object removes
only the object. A later ark install pointed at the same bucket finds the backups again.
To delete backups with their data, use ark backup delete before uninstalling.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.in = c.InOrStdin()
			return o.Run(c.Context(), c.OutOrStdout(), f)
		},
	}
	c.Flags().BoolVar(&o.Confirm, "confirm", false, "Do not ask for confirmation.")
	c.Flags().BoolVar(&o.Confirm, "force", false, "The same as --confirm (as in Velero).")
	c.Flags().BoolVar(&o.KeepCRDs, "keep-crds", false, "Keep the ark CRDs (and so the ark objects of other namespaces).")
	return c
}

// bucketNote is said before and after an uninstall.
const bucketNote = "The bucket and the backups in it are not touched: ark uninstall never deletes a bucket's data or volume snapshots."

// Run asks for confirmation and deletes.
func (o *UninstallOptions) Run(ctx context.Context, out io.Writer, f client.Factory) error {
	ns := f.Namespace()
	objs, err := install.Prereqs(ns)
	if err != nil {
		return err
	}
	deploy := &unstructured.Unstructured{}
	deploy.SetAPIVersion("apps/v1")
	deploy.SetKind("Deployment")
	deploy.SetNamespace(ns)
	deploy.SetName(install.DeploymentName)
	objs = append(objs, deploy)
	if !o.Confirm {
		what := "the namespace " + ns + " with everything in it, the server's ClusterRole and ClusterRoleBinding"
		if !o.KeepCRDs {
			what += ", and the ark CRDs with the ark objects of every namespace"
		}
		fmt.Fprintf(out, "You are about to delete the ark server in %s, %s.\n%s\n", ns, what, bucketNote)
		fmt.Fprint(out, "Are you sure you want to continue (y/N)? ")
		answer, _ := bufio.NewReader(o.in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("cancelled: nothing was deleted (--confirm skips the question)")
		}
	}
	cfg, err := f.ClientConfig()
	if err != nil {
		return err
	}
	kc, err := install.NewClient(cfg)
	if err != nil {
		return err
	}
	if err := kc.Uninstall(ctx, objs, o.KeepCRDs, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "ark is uninstalled from %s (the namespace may take a moment to go). %s\n", ns, bucketNote)
	return nil
}
