//go:build integration

package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/test/objectstores"
)

// `ark backup logs` and `ark backup download` from outside the cluster: the
// server reaches MinIO at an internal address (s3Url: a proxy that refuses
// every pre-signed request, as an in-cluster name a laptop cannot resolve
// would), and signs the client's URLs for publicUrl (MinIO itself). A log
// missing from the bucket is a clear error that holds no signed URL.
func TestDownloadsThroughPublicURL(t *testing.T) {
	srv := objectstores.StartT(t, objectstores.S3)
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "ark"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	presignedViaInternal := 0
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			presignedViaInternal++
			http.Error(w, "this address is not reachable from outside the cluster", http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(internal.Close)

	e := startArk(t, testCluster, envOptions{config: func(c *arkv1.Config) {
		c.BackupStorageProvider = arkv1.ObjectStorageProviderConfig{
			CloudProviderConfig: arkv1.CloudProviderConfig{Name: "aws", Config: map[string]string{
				"region": srv.Region, "s3Url": internal.URL, "s3ForcePathStyle": "true", cloudprovider.PublicURLKey: srv.Endpoint,
			}},
			Bucket: "ark",
		}
	}})
	app, _ := fixture(t, 5)
	e.mustRun("backup", "create", "b1", "--include-namespaces", app, "--wait")
	e.waitBackupPhase("b1", arkv1.BackupPhaseCompleted)

	logs := e.mustRun("backup", "logs", "b1")
	if !strings.Contains(logs, "cm-0004") {
		t.Errorf("the log does not name the backed-up items:\n%s", logs)
	}
	path := filepath.Join(t.TempDir(), "b1.tar.gz")
	if out := e.mustRun("backup", "download", "b1", "-o", path); !strings.Contains(out, "successfully downloaded") {
		t.Errorf("download: %s", out)
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Fatalf("downloaded tarball: %v", err)
	}
	if presignedViaInternal != 0 {
		t.Errorf("%d download(s) went to the internal address", presignedViaInternal)
	}

	// The log is gone from the bucket: a clear error, no signed URL in it.
	c := s3.New(s3.Options{Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")})
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ark"), Key: aws.String("b1/b1-logs.gz")}); err != nil {
		t.Fatal(err)
	}
	out, err := e.run("backup", "logs", "b1")
	if err == nil || !strings.Contains(err.Error(), `Log of backup "b1" not found`) {
		t.Fatalf("logs of a missing log file: %v\n%s", err, out)
	}
	for _, leak := range []string{"X-Amz-", srv.AccessKey, "b1-logs.gz?"} {
		if strings.Contains(err.Error()+out, leak) {
			t.Errorf("the error holds %q: %v\n%s", leak, err, out)
		}
	}
}
