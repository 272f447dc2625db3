//go:build integration

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/test/objectstores"
)

// leakCase is an object store reached with credentials that fail, whose
// secret values the test knows.
type leakCase struct {
	name string
	kind objectstores.Kind
	// setup sets the server's credentials (t.Setenv: the server inherits the
	// environment) and returns its Config and the secret values.
	setup func(t *testing.T, srv *objectstores.Server, proxyURL string) (func(*arkv1.Config), []string)
}

// No secret in any output: with deliberately failing Azure SAS, S3 and GCS
// credentials, first refused by the store and then with the store
// unreachable, none of the secret values (nor the query string of a signed
// download URL) is in the server's log, any status of an ark object, any
// Event, /readyz, /metrics, /healthz, or what the ark CLI prints.
func TestNoSecretInAnyOutput(t *testing.T) {
	for _, tc := range []leakCase{
		{name: "azure-sas", kind: objectstores.Azure, setup: func(t *testing.T, srv *objectstores.Server, proxyURL string) (func(*arkv1.Config), []string) {
			sig := "ArkLeakTestSig0123456789abcdefghijKLMNOP"
			t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "BlobEndpoint="+proxyURL+"/"+srv.Account+
				";SharedAccessSignature=sv=2023-11-03&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&st=2020-01-01T00:00:00Z&spr=https,http&sig="+sig+"%3D")
			t.Setenv("AZURE_STORAGE_ACCOUNT", "")
			t.Setenv("AZURE_STORAGE_KEY", "")
			return func(c *arkv1.Config) {
				c.BackupStorageProvider = arkv1.ObjectStorageProviderConfig{
					CloudProviderConfig: arkv1.CloudProviderConfig{Name: "azure", Config: map[string]string{}}, Bucket: "ark"}
			}, []string{sig}
		}},
		{name: "s3", kind: objectstores.S3, setup: func(t *testing.T, srv *objectstores.Server, proxyURL string) (func(*arkv1.Config), []string) {
			secret := "ArkLeakTestSecretKey0123456789abcdefghij"
			t.Setenv("AWS_ACCESS_KEY_ID", "ARKLEAKTESTACCESSKEY")
			t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
			t.Setenv("AWS_SESSION_TOKEN", "")
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			return func(c *arkv1.Config) {
				c.BackupStorageProvider = arkv1.ObjectStorageProviderConfig{
					CloudProviderConfig: arkv1.CloudProviderConfig{Name: "aws", Config: map[string]string{
						"region": srv.Region, "s3Url": proxyURL, "s3ForcePathStyle": "true"}},
					Bucket: "ark"}
			}, []string{secret}
		}},
		{name: "gcs", kind: objectstores.GCS, setup: func(t *testing.T, srv *objectstores.Server, proxyURL string) (func(*arkv1.Config), []string) {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
			keyID := "arkleaktestprivatekeyid0123456789abcdef"
			creds, _ := json.Marshal(map[string]string{
				"type": "service_account", "project_id": "ark-test", "private_key_id": keyID,
				"private_key": keyPEM, "client_email": "ark@ark-test.iam.gserviceaccount.com",
				"token_uri": proxyURL + "/token",
			})
			path := filepath.Join(t.TempDir(), "gcs-key.json")
			if err := os.WriteFile(path, creds, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
			// Lines of the PEM body: any of them in an output is a leak.
			lines := strings.Split(strings.TrimSpace(keyPEM), "\n")
			return func(c *arkv1.Config) {
				c.BackupStorageProvider = arkv1.ObjectStorageProviderConfig{
					CloudProviderConfig: arkv1.CloudProviderConfig{Name: "gcp", Config: map[string]string{"storageEndpoint": proxyURL}},
					Bucket:              "ark-no-such-bucket"}
			}, append([]string{keyID}, lines[1:len(lines)-1]...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testNoSecretLeaks(t, tc) })
	}
}

func testNoSecretLeaks(t *testing.T, tc leakCase) {
	ctx := context.Background()
	srv := objectstores.StartT(t, tc.kind)
	// The proxy's idle connections to the store would hold Azurite's graceful
	// stop past its SIGTERM grace period.
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	proxy := newStoreProxy(t, srv.Endpoint)
	if tc.kind == objectstores.Azure {
		// The SAS is refused for the account, not for a missing container.
		if err := srv.CreateBucket(ctx, "ark"); err != nil {
			t.Fatal(err)
		}
	}
	config, secrets := tc.setup(t, srv, proxy.URL())
	e := startArk(t, testCluster, envOptions{config: config, noWait: true})
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := e.server.WaitControllers(wctx); err != nil {
		t.Fatal(err)
	}

	var outputs []string // what the CLI printed
	signedQueries := map[string]bool{}
	exercise := func(suffix string) {
		backup := "leak-" + suffix
		outputs = append(outputs, e.mustRun("backup", "create", backup, "--include-namespaces", "default"))
		e.createRestore(backup, backup, nil)
		req := &arkv1.DownloadRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: backup},
			Spec:       arkv1.DownloadRequestSpec{Target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Name: backup}},
		}
		if _, err := e.ark.ArkV1().DownloadRequests(e.namespace).Create(ctx, req, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			got, err := e.ark.ArkV1().DownloadRequests(e.namespace).Get(ctx, backup, metav1.GetOptions{})
			if err != nil || got.Status.Phase == "" || got.Status.Phase == arkv1.DownloadRequestPhaseNew {
				return false, nil
			}
			if u, err := url.Parse(got.Status.DownloadURL); err == nil && u.RawQuery != "" {
				signedQueries[u.RawQuery] = true
			}
			return true, nil
		})
		if err != nil {
			t.Fatalf("the download request was not answered\n%s", e.server.LogTail(50))
		}
		for _, args := range [][]string{
			{"backup", "logs", backup, "--timeout", "30s"},
			{"backup", "download", backup, "-o", filepath.Join(t.TempDir(), "b.tar.gz"), "--timeout", "30s"},
			{"backup", "describe", backup},
			{"restore", "describe", backup},
		} {
			out, err := e.run(args...)
			if err != nil {
				out += "\n" + err.Error()
			}
			outputs = append(outputs, out)
		}
		// Both wait for the bucket (New) and say why in the log.
		waitFor(t, "the backup and the restore to be tried", func() bool {
			log := e.server.Logs()
			return strings.Contains(log, "backup.name="+backup) && strings.Contains(log, "restore.name="+backup)
		})
	}
	exercise("refused")
	proxy.stop()
	exercise("unreachable")

	// Everything that left the server.
	sources := map[string]string{"server log": e.server.Logs()}
	for _, p := range []string{"/readyz", "/metrics", "/healthz"} {
		_, body := httpGet(t, e.server.URL(p))
		sources[p] = body
	}
	dump := func(what string, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		sources[what] = string(data)
	}
	ark := e.ark.ArkV1()
	backups, err := ark.Backups(e.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dump("Backups", backups)
	restores, err := ark.Restores(e.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dump("Restores", restores)
	downloads, err := ark.DownloadRequests(e.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range downloads.Items {
		downloads.Items[i].Status.DownloadURL = "" // the answer itself: a signed URL by design
	}
	dump("DownloadRequests", downloads)
	events, err := testCluster.Client().CoreV1().Events(e.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dump("Events", events)
	for i, out := range outputs {
		sources["CLI output "+string(rune('a'+i))] = out
	}

	// The failing paths ran: the store refused, then could not be reached.
	if log := e.server.Logs(); !strings.Contains(log, "does not answer") {
		t.Errorf("the server never reported the failing bucket; the test proves nothing\n%s", e.server.LogTail(80))
	}
	if len(signedQueries) == 0 && tc.kind != objectstores.Azure {
		t.Errorf("no download request was answered with a signed URL")
	}
	for what, text := range sources {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q:\n%s", what, s, around(text, s))
			}
		}
		for q := range signedQueries {
			if strings.Contains(text, q) {
				t.Errorf("%s holds a signed URL's query %q:\n%s", what, q, around(text, q))
			}
		}
	}
}

// around returns the text around the first s in text.
func around(text, s string) string {
	i := strings.Index(text, s)
	from, to := max(0, i-300), min(len(text), i+len(s)+100)
	return text[from:to]
}
