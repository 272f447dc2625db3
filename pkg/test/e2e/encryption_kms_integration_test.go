//go:build integration

package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/test/objectstores"
)

// TestEncryptionWithAWSKMS: the Config's only recipient is an AWS KMS key (local-kms on
// loopback, through the real SDK: no cloud access) and there is no identity Secret; the
// server wraps each file's key with the KMS, the bucket holds no plaintext, and the backup
// restores with the same key.
func TestEncryptionWithAWSKMS(t *testing.T) {
	ctx := context.Background()
	// The server process inherits the test's environment (the SDK's default chain).
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := objectstores.StartT(t, objectstores.KMS)
	admin := awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")})
	key, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	uri := "awskms://" + *key.KeyMetadata.KeyId + "?region=us-east-1&endpoint=" + url.QueryEscape(srv.Endpoint)
	wantID := "awskms://" + *key.KeyMetadata.KeyId + "?region=us-east-1"

	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "ark"), 0o700); err != nil {
		t.Fatal(err)
	}
	e := startArk(t, testCluster, envOptions{config: func(c *arkv1.Config) {
		c.BackupStorageProvider.Config["root"] = root
		c.Encryption = &arkv1.EncryptionConfig{Recipients: []string{uri}}
	}})

	value := "ArkKMSPlaintext-" + rand.String(16)
	app := testCluster.NewNamespace(t)
	createSecret(t, app, "db", value)
	e.mustRun("backup", "create", "kms1", "--include-namespaces", app, "--wait")
	b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "kms1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if enc := b.Status.Encryption; enc == nil || !slices.Equal(enc.KeyIDs, []string{wantID}) {
		t.Fatalf("status.encryption %+v, want the KMS key %s", b.Status.Encryption, wantID)
	}
	// Verify checks the stored (encrypted) bytes and, holding the key, decodes every item.
	if out := e.mustRun("backup", "verify", "kms1"); !strings.Contains(out, "verification Passed") || strings.Contains(out, " 0 items decoded") {
		t.Errorf("verify of the encrypted backup:\n%s", out)
	}
	if err := testCluster.DeleteNamespaceAndWait(ctx, app, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if out := e.mustRun("restore", "create", "kms1", "--name", "r1", "--wait"); !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore:\n%s", out)
	}
	got, err := testCluster.Client().CoreV1().Secrets(app).Get(ctx, "db", metav1.GetOptions{})
	if err != nil || string(got.Data["password"]) != value {
		t.Fatalf("the Secret did not come back with its value: %v", err)
	}
	if logs := e.mustRun("backup", "logs", "kms1"); !strings.Contains(logs, app) {
		t.Errorf("ark backup logs gives no readable log:\n%.2000s", logs)
	}
	keys := assertNoPlaintext(t, filesystemObjects(root)(t), value)
	if !slices.Contains(keys, "kms1/kms1.tar.gz") {
		t.Errorf("the test read no tarball: %v", keys)
	}
}
