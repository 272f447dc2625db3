package install

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"filippo.io/age"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/heptio/ark/examples"
	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider/factory"
	"github.com/heptio/ark/pkg/validation"
	"github.com/heptio/ark/pkg/volume"
)

func render(t *testing.T, o Options) map[string]*unstructured.Unstructured {
	t.Helper()
	objs, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	for _, obj := range objs {
		out[obj.GetKind()+"/"+obj.GetName()] = obj
	}
	if len(out) != len(objs) {
		t.Fatalf("two objects of one kind and name in %d objects", len(objs))
	}
	return out
}

// What `ark install` applies in heptio-ark is what examples/common/ holds:
// 00-prereqs.yaml object for object, 10-deployment.yaml but for the image, the
// example Config but for the bucket and the provider's config.
func TestRenderAgreesWithExamples(t *testing.T) {
	got := render(t, Options{Provider: "aws", Bucket: "b", Image: "example.com/ark:v1",
		BackupLocationConfig: map[string]string{"region": "eu-west-1"}, Credentials: []byte("[default]\n")})

	shipped, err := decodeAll(examples.Prereqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shipped {
		g := got[s.GetKind()+"/"+s.GetName()]
		if g == nil || !reflect.DeepEqual(g.Object, s.Object) {
			t.Errorf("%s %s differs from examples/common/00-prereqs.yaml", s.GetKind(), s.GetName())
		}
	}

	deployments, _ := decodeAll(examples.Deployment)
	d := got["Deployment/ark"]
	var gotDeploy, wantDeploy appsv1.Deployment
	fromUnstructured(t, d, &gotDeploy)
	fromUnstructured(t, deployments[0], &wantDeploy)
	if gotDeploy.Spec.Template.Spec.Containers[0].Image != "example.com/ark:v1" {
		t.Errorf("image = %s", gotDeploy.Spec.Template.Spec.Containers[0].Image)
	}
	gotDeploy.Spec.Template.Spec.Containers[0].Image = wantDeploy.Spec.Template.Spec.Containers[0].Image
	if !reflect.DeepEqual(gotDeploy, wantDeploy) {
		t.Errorf("the Deployment differs from examples/common/10-deployment.yaml beyond the image")
	}

	var cfg arkv1.Config
	fromUnstructured(t, got["Config/default"], &cfg)
	example, err := ExampleConfig("aws")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BackupStorageProvider.Bucket != "b" || cfg.BackupStorageProvider.Config["region"] != "eu-west-1" ||
		cfg.PersistentVolumeProvider != nil || cfg.BackupSyncPeriod != example.BackupSyncPeriod || cfg.Namespace != ShippedNamespace {
		t.Errorf("config = %+v", cfg)
	}

	var secret corev1.Secret
	fromUnstructured(t, got["Secret/cloud-credentials"], &secret)
	if string(secret.Data["cloud"]) != "[default]\n" || secret.Namespace != ShippedNamespace {
		t.Errorf("secret = %+v", secret)
	}
}

func fromUnstructured(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if u == nil {
		t.Fatal("object not rendered")
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatal(err)
	}
}

// The server's pod meets Pod Security "restricted" (the rules of
// https://kubernetes.io/docs/concepts/security/pod-security-standards/), with
// a read-only root filesystem whose only writable paths are volumes.
func TestRenderedPodIsRestricted(t *testing.T) {
	for _, provider := range factory.ObjectStoreNames() {
		t.Run(provider, func(t *testing.T) {
			got := render(t, Options{Provider: provider, Bucket: "b", Credentials: []byte("x")})
			var d appsv1.Deployment
			fromUnstructured(t, got["Deployment/ark"], &d)
			pod := d.Spec.Template.Spec
			if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
				sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod securityContext = %+v", pod.SecurityContext)
			}
			if pod.HostNetwork || pod.HostPID || pod.HostIPC {
				t.Error("host namespaces")
			}
			for _, v := range pod.Volumes {
				if v.EmptyDir == nil && v.Secret == nil {
					t.Errorf("volume %s is neither an emptyDir nor a Secret", v.Name)
				}
			}
			for _, c := range pod.Containers {
				sc := c.SecurityContext
				if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
					sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 ||
					sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || (sc.Privileged != nil && *sc.Privileged) {
					t.Errorf("container %s securityContext = %+v", c.Name, sc)
				}
				mounts := map[string]bool{}
				for _, m := range c.VolumeMounts {
					mounts[m.MountPath] = true
				}
				if !mounts["/tmp"] {
					t.Error("no scratch volume at /tmp")
				}
				if provider == "filesystem" && !mounts["/var/lib/ark/b"] {
					t.Errorf("the filesystem bucket is not a volume: %v", mounts)
				}
			}
		})
	}
}

func TestRenderNamespaceAndOptions(t *testing.T) {
	got := render(t, Options{Namespace: "backup", Provider: "gcp", Bucket: "b", Prefix: "cluster-a",
		SnapshotLocationConfig: map[string]string{"project": "p"}, RestoreOnly: true})
	if got["ClusterRole/ark-backup"] == nil || got["ClusterRoleBinding/ark-backup"] == nil || got["Namespace/backup"] == nil {
		t.Fatalf("objects: %v", keys(got))
	}
	if got["Secret/cloud-credentials"] != nil {
		t.Error("a Secret without credentials")
	}
	for k, o := range got {
		if o.GetNamespace() != "" && o.GetNamespace() != "backup" {
			t.Errorf("%s in namespace %s", k, o.GetNamespace())
		}
	}
	var cfg arkv1.Config
	fromUnstructured(t, got["Config/default"], &cfg)
	if cfg.BackupStorageProvider.Config["prefix"] != "cluster-a" || cfg.PersistentVolumeProvider == nil ||
		cfg.PersistentVolumeProvider.Name != "gcp" || cfg.PersistentVolumeProvider.Config["project"] != "p" || !cfg.RestoreOnlyMode {
		t.Errorf("config = %+v", cfg)
	}
	// Rendering twice gives the same objects (install is idempotent).
	again := render(t, Options{Namespace: "backup", Provider: "gcp", Bucket: "b", Prefix: "cluster-a",
		SnapshotLocationConfig: map[string]string{"project": "p"}, RestoreOnly: true})
	if !reflect.DeepEqual(got, again) {
		t.Error("two renders differ")
	}
}

// `ark install`'s encryption flags: the Config's encryption section and the identity Secret.
func TestRenderEncryption(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	const kmsKey = "awskms://alias/ark?region=us-east-1"
	tests := []struct {
		name       string
		o          Options
		wantSecret string // the identity Secret named by the Config, "" for none
		wantObject bool   // the Secret is rendered
		wantErr    string
	}{
		{name: "age recipient and its identity", o: Options{EncryptionRecipients: []string{id.Recipient().String()}, EncryptionIdentities: []byte(id.String() + "\n")},
			wantSecret: EncryptionSecret, wantObject: true},
		{name: "KMS key alone", o: Options{EncryptionRecipients: []string{kmsKey}}},
		{name: "KMS key and an existing Secret", o: Options{EncryptionRecipients: []string{kmsKey}, EncryptionIdentitySecret: "keys"}, wantSecret: "keys"},
		{name: "identity of another key", o: Options{EncryptionRecipients: []string{id.Recipient().String()}, EncryptionIdentities: []byte(other.String())},
			wantErr: "holds the identity of none"},
		{name: "unknown key scheme", o: Options{EncryptionRecipients: []string{"foo://x"}}, wantErr: "unsupported key URI scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Namespace, o.Provider, o.Bucket = "heptio-ark", "filesystem", "b"
			objs, err := Render(o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]*unstructured.Unstructured{}
			for _, u := range objs {
				got[u.GetKind()+"/"+u.GetName()] = u
			}
			var cfg arkv1.Config
			fromUnstructured(t, got["Config/default"], &cfg)
			if cfg.Encryption == nil || !reflect.DeepEqual(cfg.Encryption.Recipients, o.EncryptionRecipients) {
				t.Fatalf("encryption %+v", cfg.Encryption)
			}
			switch s := cfg.Encryption.IdentitySecret; {
			case tt.wantSecret == "" && s != nil:
				t.Errorf("identitySecret %+v, want none", s)
			case tt.wantSecret != "" && (s == nil || s.Name != tt.wantSecret):
				t.Errorf("identitySecret %+v, want %s", s, tt.wantSecret)
			}
			if has := got["Secret/"+EncryptionSecret] != nil; has != tt.wantObject {
				t.Errorf("identity Secret rendered: %v, want %v", has, tt.wantObject)
			}
		})
	}
}

func keys(m map[string]*unstructured.Unstructured) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no provider", Options{Bucket: "b"}, "--provider is required"},
		{"unknown provider", Options{Provider: "s3", Bucket: "b"}, `unknown --provider "s3"`},
		{"no bucket", Options{Provider: "aws", BackupLocationConfig: map[string]string{"region": "x"}}, "bucket is required"},
		{"misspelt key", Options{Provider: "aws", Bucket: "b", BackupLocationConfig: map[string]string{"regoin": "x"}}, `unknown config key(s) "regoin"`},
		{"two prefixes", Options{Provider: "aws", Bucket: "b", Prefix: "a", BackupLocationConfig: map[string]string{"prefix": "b"}}, "--prefix"},
		{"bad snapshot provider", Options{Provider: "filesystem", Bucket: "b", SnapshotProvider: "nfs"}, `"nfs" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// Every example Config starts a server: it passes the server's checks at
// start (validation.Config, then the object store and the volume provider it
// names are built from their config, as ark server does), with credentials of
// the right shape in the environment.
func TestEveryExampleConfigStartsAServer(t *testing.T) {
	fakeCredentials(t)
	files, err := filepath.Glob("../../examples/*/config/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../examples/minio/10-ark-config.yaml")
	if len(files) < 5 {
		t.Fatalf("found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var cfg arkv1.Config
			if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
				t.Fatal(err)
			}
			if errs := validation.Config(&cfg); len(errs) > 0 {
				t.Fatalf("invalid: %v", errs)
			}
			ctx := context.Background()
			p := cfg.BackupStorageProvider
			config := map[string]string{}
			for k, v := range p.Config {
				config[k] = v
			}
			if p.Name == "filesystem" {
				config["root"] = t.TempDir()
			}
			if _, err := factory.NewObjectStore(ctx, p.Name, config); err != nil {
				t.Errorf("backupStorageProvider: %v", err)
			}
			if v := cfg.PersistentVolumeProvider; v != nil {
				if _, err := volume.New(ctx, v, volume.Options{}); err != nil {
					t.Errorf("persistentVolumeProvider: %v", err)
				}
			}
		})
	}
}

// fakeCredentials puts credentials of each provider's shape in the environment
// (nothing is contacted: the constructors only read them).
func fakeCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "devstoreaccount1")
	t.Setenv("AZURE_STORAGE_KEY", "c2VjcmV0")
	t.Setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000000")
	t.Setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000")
	t.Setenv("AZURE_CLIENT_SECRET", "secret")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	sa, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "my-project", "client_email": "ark@my-project.iam.gserviceaccount.com",
		"private_key": string(pemKey), "private_key_id": "1", "token_uri": "https://oauth2.googleapis.com/token"})
	path := filepath.Join(t.TempDir(), "gcp.json")
	if err := os.WriteFile(path, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
}
