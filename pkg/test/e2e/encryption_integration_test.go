//go:build integration

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/test/objectstores"
)

const ageHeader = "age-encryption.org/v1\n"

// encKey is an age key of a test: its identity and recipient.
type encKey struct{ id *age.X25519Identity }

func newEncKey(t testing.TB) encKey {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return encKey{id}
}

func (k encKey) public() string { return k.id.Recipient().String() }

// putIdentities writes the identities Secret "ark-keys" of env e (creates or replaces it).
func putIdentities(t testing.TB, ns string, keys ...encKey) {
	t.Helper()
	var lines []string
	for _, k := range keys {
		lines = append(lines, "# "+k.public(), k.id.String())
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ark-keys"},
		Data: map[string][]byte{arkv1.DefaultIdentitySecretKey: []byte(strings.Join(lines, "\n") + "\n")}}
	ctx := context.Background()
	secrets := testCluster.Client().CoreV1().Secrets(ns)
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err == nil {
		return
	}
	if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// encrypted returns envOptions with Config.encryption for recipients, the identities in
// the Secret ark-keys created before the server starts, over store (the bucket's config).
func encrypted(store func(*arkv1.Config), identities []encKey, recipients ...encKey) envOptions {
	return envOptions{
		config: func(c *arkv1.Config) {
			if store != nil {
				store(c)
			}
			fastSync(c)
			var rs []string
			for _, r := range recipients {
				rs = append(rs, r.public())
			}
			c.Encryption = &arkv1.EncryptionConfig{Recipients: rs, IdentitySecret: &arkv1.SecretKeySelector{Name: "ark-keys"}}
		},
		beforeStart: func(e *arkEnv) { putIdentities(e.t, e.namespace, identities...) },
	}
}

// bucketReader returns every object of the bucket: key -> bytes.
type bucketReader func(t *testing.T) map[string][]byte

func filesystemObjects(root string) bucketReader {
	return func(t *testing.T) map[string][]byte {
		t.Helper()
		out := map[string][]byte{}
		err := filepath.WalkDir(filepath.Join(root, "ark"), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			rel, _ := filepath.Rel(filepath.Join(root, "ark"), path)
			out[filepath.ToSlash(rel)] = data
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func s3Objects(srv *objectstores.Server) bucketReader {
	return func(t *testing.T) map[string][]byte {
		t.Helper()
		ctx := context.Background()
		c := s3.New(s3.Options{Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")})
		out := map[string][]byte{}
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("ark")})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ark"), Key: o.Key})
				if err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(got.Body)
				got.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				out[*o.Key] = data
			}
		}
		return out
	}
}

// assertNoPlaintext reads every object of the bucket, raw and (if gzip) gunzipped, and
// fails if any holds one of the secrets (or their base64, as a Secret's JSON has it).
// Every object but the metadata must be an age file. It returns the keys read.
func assertNoPlaintext(t *testing.T, objects map[string][]byte, secrets ...string) []string {
	t.Helper()
	var needles []string
	for _, s := range secrets {
		needles = append(needles, s, base64.StdEncoding.EncodeToString([]byte(s)))
	}
	var keys []string
	for key, data := range objects {
		keys = append(keys, key)
		views := [][]byte{data}
		if gz, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			if plain, err := io.ReadAll(gz); err == nil {
				views = append(views, plain)
			}
		}
		for _, v := range views {
			for _, n := range needles {
				if bytes.Contains(v, []byte(n)) {
					t.Errorf("object %s of the bucket holds the plaintext %q", key, n)
				}
			}
		}
		base := key[strings.LastIndex(key, "/")+1:]
		if base != "ark-backup.json" && base != "ark-backup-deleting.json" && !bytes.HasPrefix(data, []byte(ageHeader)) {
			t.Errorf("object %s of the bucket is not an age file (starts %q)", key, data[:min(len(data), 16)])
		}
	}
	slices.Sort(keys)
	return keys
}

// tarHas says whether the gzipped tarball holds needle in one of its files.
func tarHas(t *testing.T, tgz []byte, needle string) bool {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if bytes.Contains(data, []byte(needle)) {
			return true
		}
	}
}

func TestEncryptionFilesystem(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "ark"), 0o700); err != nil {
		t.Fatal(err)
	}
	testEncryption(t, func(c *arkv1.Config) { c.BackupStorageProvider.Config["root"] = root }, filesystemObjects(root))
}

func TestEncryptionMinIO(t *testing.T) {
	srv, _, opts := s3Env(t)
	// Straight to MinIO (the fault proxy is not needed): the CLI downloads from the signed URL.
	store := func(c *arkv1.Config) {
		opts.config(c)
		c.BackupStorageProvider.Config["s3Url"] = srv.Endpoint
	}
	testEncryption(t, store, s3Objects(srv))
}

// testEncryption: a namespace with a Secret of a known value is backed up with encryption
// configured; no object of the bucket holds the value; it restores, syncs into a fresh
// server that holds only the break-glass key, and downloads in plaintext to the client
// (ciphertext with --raw); after a rotation old backups still restore; without the old
// key their restore fails validation, clearly, and restores nothing.
func testEncryption(t *testing.T, store func(*arkv1.Config), objects bucketReader) {
	ctx := context.Background()
	k1, breakGlass, k2 := newEncKey(t), newEncKey(t), newEncKey(t)
	e := startArk(t, testCluster, encrypted(store, []encKey{k1}, k1, breakGlass))

	value := "ArkE2EPlaintext-" + rand.String(16)
	app := testCluster.NewNamespace(t)
	if _, err := testCluster.Client().CoreV1().Secrets(app).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": value}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.mustRun("backup", "create", "enc1", "--include-namespaces", app, "--wait")
	b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "enc1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{k1.public(), breakGlass.public()}
	slices.Sort(wantKeys)
	if enc := b.Status.Encryption; enc == nil || enc.Scheme != "age" || !slices.Equal(enc.KeyIDs, wantKeys) {
		t.Fatalf("status.encryption %+v, want age for %v", b.Status.Encryption, wantKeys)
	}
	if out := e.mustRun("backup", "describe", "enc1"); !strings.Contains(out, k1.public()) || !strings.Contains(out, breakGlass.public()) || strings.Contains(out, "AGE-SECRET-KEY") {
		t.Errorf("describe does not show the key ids (or shows key material):\n%s", out)
	}

	// Restore after losing the namespace.
	if err := testCluster.DeleteNamespaceAndWait(ctx, app, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("restore", "create", "enc1", "--name", "r1", "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore:\n%s", out)
	}
	got, err := testCluster.Client().CoreV1().Secrets(app).Get(ctx, "db", metav1.GetOptions{})
	if err != nil || string(got.Data["password"]) != value {
		t.Fatalf("the Secret did not come back with its value: %v %q", err, got.Data["password"])
	}

	// The client gets plaintext; --raw gives the stored ciphertext.
	if logs := e.mustRun("backup", "logs", "enc1"); !strings.Contains(logs, app) {
		t.Errorf("ark backup logs gives no readable log:\n%.2000s", logs)
	}
	if logs := e.mustRun("restore", "logs", "r1"); !strings.Contains(logs, app) {
		t.Errorf("ark restore logs gives no readable log:\n%.2000s", logs)
	}
	dir := t.TempDir()
	plainPath, rawPath := filepath.Join(dir, "enc1.tar.gz"), filepath.Join(dir, "enc1.tar.gz.age")
	e.mustRun("backup", "download", "enc1", "-o", plainPath)
	e.mustRun("backup", "download", "enc1", "--raw", "-o", rawPath)
	plain, _ := os.ReadFile(plainPath)
	if !tarHas(t, plain, base64.StdEncoding.EncodeToString([]byte(value))) {
		t.Error("the downloaded tarball does not hold the Secret")
	}
	raw, _ := os.ReadFile(rawPath)
	if !bytes.HasPrefix(raw, []byte(ageHeader)) {
		t.Fatalf("--raw did not give the age file (starts %q)", raw[:min(len(raw), 24)])
	}
	dec, err := age.Decrypt(bytes.NewReader(raw), breakGlass.id) // the offline key decrypts it with age alone
	if err != nil {
		t.Fatalf("the break-glass key does not decrypt the raw tarball: %v", err)
	}
	decrypted, _ := io.ReadAll(dec)
	if !bytes.Equal(decrypted, plain) {
		t.Error("the raw tarball decrypted with the break-glass key differs from the plaintext download")
	}

	// A fresh server on the same bucket, holding only the break-glass key: sync and restore.
	second := startArk(t, testCluster, encrypted(store, []encKey{breakGlass}))
	waitFor(t, "the second server to sync enc1", func() bool {
		b, err := second.ark.ArkV1().Backups(second.namespace).Get(ctx, "enc1", metav1.GetOptions{})
		return err == nil && b.Status.Encryption != nil && b.Status.Phase == arkv1.BackupPhaseCompleted
	})
	moved := testCluster.NewNamespace(t)
	out = second.mustRun("restore", "create", "enc1", "--name", "moved", "--namespace-mappings", app+":"+moved, "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore in the second server:\n%s", out)
	}
	if got, err := testCluster.Client().CoreV1().Secrets(moved).Get(ctx, "db", metav1.GetOptions{}); err != nil || string(got.Data["password"]) != value {
		t.Fatalf("the second server did not restore the Secret: %v", err)
	}

	// Rotation: new backups for k2; the Secret keeps k1 for the old ones.
	putIdentities(t, e.namespace, k2, k1)
	cfg, err := e.ark.ArkV1().Configs(e.namespace).Get(ctx, arkv1.DefaultConfigName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Encryption.Recipients = []string{k2.public(), breakGlass.public()}
	if _, err := e.ark.ArkV1().Configs(e.namespace).Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = e.waitExit(time.Minute) // a Config change stops the server; its Deployment would start it again
	e.startServer()
	e.mustRun("backup", "create", "enc2", "--include-namespaces", app, "--wait")
	b2, _ := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "enc2", metav1.GetOptions{})
	if b2.Status.Encryption == nil || !slices.Contains(b2.Status.Encryption.KeyIDs, k2.public()) || slices.Contains(b2.Status.Encryption.KeyIDs, k1.public()) {
		t.Fatalf("after the rotation, enc2 is encrypted for %+v", b2.Status.Encryption)
	}
	rotated := testCluster.NewNamespace(t)
	out = e.mustRun("restore", "create", "enc1", "--name", "old-after-rotation", "--namespace-mappings", app+":"+rotated, "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("the old backup does not restore after the rotation:\n%s", out)
	}

	// Every object written so far (backups, logs, resource lists, restore logs and
	// results, download copies) is ciphertext.
	keys := assertNoPlaintext(t, objects(t), value)
	t.Logf("bucket objects checked: %v", keys)
	for _, want := range []string{"enc1/enc1.tar.gz", "enc1/enc1-logs.gz", "enc1/enc1-resource-list.json.gz", "enc1/restore-r1-logs.gz", "enc1/restore-r1-results.gz", "enc2/enc2.tar.gz"} {
		if !slices.Contains(keys, want) {
			t.Errorf("the bucket has no %s (the test read: %v)", want, keys)
		}
	}

	// The old key removed: the old backup fails clearly, nothing is restored.
	putIdentities(t, e.namespace, k2)
	e.stop()
	e.startServer()
	lost := testCluster.NewNamespace(t)
	_, _ = e.run("restore", "create", "enc1", "--name", "no-key", "--namespace-mappings", app+":"+lost, "--wait")
	r := e.waitRestorePhase("no-key", time.Minute, arkv1.RestorePhaseFailedValidation, arkv1.RestorePhaseFailed, arkv1.RestorePhaseCompleted)
	msg := strings.Join(r.Status.ValidationErrors, "; ")
	if r.Status.Phase != arkv1.RestorePhaseFailedValidation || !strings.Contains(msg, `backup "enc1" is encrypted for key(s)`) ||
		!strings.Contains(msg, k1.public()) || !strings.Contains(msg, "none of which is available") {
		t.Errorf("restore without the key: phase %s, errors %q", r.Status.Phase, msg)
	}
	if s, err := testCluster.Client().CoreV1().Secrets(lost).List(ctx, metav1.ListOptions{}); err != nil || len(s.Items) > 0 {
		t.Errorf("a restore without the key restored %d secrets (%v)", len(s.Items), err)
	}
	if out, err := e.run("backup", "download", "enc1", "-o", filepath.Join(dir, "nokey.tar.gz")); err == nil || !strings.Contains(out, "none of which is available") {
		t.Errorf("download without the key: err %v\n%s", err, out)
	}
	// The new backup still restores.
	fresh := testCluster.NewNamespace(t)
	if out := e.mustRun("restore", "create", "enc2", "--name", "new-key", "--namespace-mappings", app+":"+fresh, "--wait"); !strings.Contains(out, "finished: Completed") {
		t.Errorf("the new backup does not restore:\n%s", out)
	}
	assertNoPlaintext(t, objects(t), value)
}
