// Package install renders and applies everything `ark server` needs in a
// cluster (`ark install`) and removes it (`ark uninstall`). Every object comes
// from the shipped manifests of examples/ (package examples embeds them): the
// namespace, CRDs, ServiceAccount and RBAC of examples/common/00-prereqs.yaml
// (generated from config/), the Deployment of examples/common/10-deployment.yaml
// and the example Config of the provider, with only what the flags say
// changed. So what `ark install` applies and what a user applying examples/ gets
// cannot drift apart.
package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/heptio/ark/examples"
	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/buildinfo"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/aws"
	"github.com/heptio/ark/pkg/cloudprovider/azure"
	"github.com/heptio/ark/pkg/cloudprovider/factory"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
	"github.com/heptio/ark/pkg/cloudprovider/gcp"
	"github.com/heptio/ark/pkg/encryption"
	"github.com/heptio/ark/pkg/encryption/kms"
	"github.com/heptio/ark/pkg/validation"
)

const (
	// ShippedNamespace is the namespace the shipped manifests install into.
	ShippedNamespace = "heptio-ark"
	// ServiceAccount is the name of the server's ServiceAccount.
	ServiceAccount = "ark"
	// DeploymentName is the name of the server's Deployment.
	DeploymentName = "ark"
	// CredentialsSecret is the Secret the Deployment mounts at /credentials; its
	// key "cloud" is the provider's credentials file.
	CredentialsSecret = "cloud-credentials"
	// CredentialsKey is the key of CredentialsSecret that holds the file.
	CredentialsKey = "cloud"
	// ImageRepository is where `make image` puts the image.
	ImageRepository = "heptio/ark"
	// BucketVolume is the emptyDir the filesystem provider's bucket lives in
	// inside the pod (see Render).
	BucketVolume = "bucket"
)

// DefaultImage is the image `make image` builds from the tree this binary was
// built from: heptio/ark:<version>.
func DefaultImage() string { return ImageRepository + ":" + buildinfo.Version }

// Options are what `ark install` takes from its flags.
type Options struct {
	// Namespace of the server and its objects. Default heptio-ark.
	Namespace string
	// Image of the server. Default DefaultImage().
	Image string
	// Provider of the object storage: aws, gcp, azure or filesystem. Required.
	Provider string
	// Bucket (container; for filesystem the directory under config root). Required.
	Bucket string
	// Prefix is a path inside the bucket under which the backups live (config key "prefix").
	Prefix string
	// BackupLocationConfig is Config.backupStorageProvider.config.
	BackupLocationConfig map[string]string
	// SnapshotLocationConfig is Config.persistentVolumeProvider.config; when
	// set, volumes are snapshotted with SnapshotProvider.
	SnapshotLocationConfig map[string]string
	// SnapshotProvider is the persistentVolumeProvider (aws, gcp, azure or
	// csi). Default: Provider, when SnapshotLocationConfig is set.
	SnapshotProvider string
	// Credentials is the content of the Secret cloud-credentials (key "cloud");
	// nil renders no Secret.
	Credentials []byte
	// RestoreOnly sets Config.restoreOnlyMode.
	RestoreOnly bool
	// EncryptionRecipients are Config.encryption.recipients: the keys new backups are
	// encrypted for (age1…).
	EncryptionRecipients []string
	// EncryptionIdentitySecret names the Secret of Config.encryption.identitySecret.
	// Default EncryptionSecret when EncryptionIdentities or EncryptionRecipients is set.
	EncryptionIdentitySecret string
	// EncryptionIdentities, when set, is the content of that Secret (key "identities"):
	// age identities, AGE-SECRET-KEY-1… lines. Nil: the Secret exists already.
	EncryptionIdentities []byte
}

// EncryptionSecret is the default name of the Secret of the encryption identities.
const EncryptionSecret = "ark-encryption-identities"

// objectStoreKeys are the backupStorageProvider.config keys of each provider.
var objectStoreKeys = map[string][]string{
	"aws": aws.ConfigKeys, "gcp": gcp.ConfigKeys, "azure": azure.ConfigKeys, "filesystem": filesystem.ConfigKeys,
}

// Render returns the objects to apply, in the order to apply them: the
// namespace, the CRDs, the ServiceAccount and RBAC, the Secret (when
// Credentials is set), the Config and the Deployment. Bad options are an
// error naming each problem.
func Render(o Options) ([]*unstructured.Unstructured, error) {
	if o.Namespace == "" {
		o.Namespace = ShippedNamespace
	}
	if o.Image == "" {
		o.Image = DefaultImage()
	}
	cfg, err := renderConfig(o)
	if err != nil {
		return nil, err
	}
	objs, err := Prereqs(o.Namespace)
	if err != nil {
		return nil, err
	}
	if o.Credentials != nil {
		secret := &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: CredentialsSecret, Labels: map[string]string{"component": "ark"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{CredentialsKey: o.Credentials},
		}
		u, err := toUnstructured(secret)
		if err != nil {
			return nil, err
		}
		objs = append(objs, u)
	}
	if o.EncryptionIdentities != nil {
		secret := &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: cfg.Encryption.IdentitySecret.Name, Labels: map[string]string{"component": "ark"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{arkv1.DefaultIdentitySecretKey: o.EncryptionIdentities},
		}
		u, err := toUnstructured(secret)
		if err != nil {
			return nil, err
		}
		objs = append(objs, u)
	}
	u, err := toUnstructured(cfg)
	if err != nil {
		return nil, err
	}
	objs = append(objs, u)
	deploy, err := renderDeployment(o, cfg)
	if err != nil {
		return nil, err
	}
	return append(objs, deploy), nil
}

// CheckProvider checks --provider: given, and one of the object stores
// (factory.ObjectStoreNames), whose example Config this binary embeds.
func CheckProvider(name string) error {
	names := factory.ObjectStoreNames()
	switch {
	case name == "":
		return fmt.Errorf("--provider is required (one of %s)", strings.Join(names, ", "))
	case !slices.Contains(names, name):
		return fmt.Errorf("unknown --provider %q (valid: %s)", name, strings.Join(names, ", "))
	}
	return nil
}

// CheckSnapshotProvider checks --snapshot-provider: empty (the object
// store's provider, or none), or one of factory.VolumeProviderNames.
func CheckSnapshotProvider(name string) error {
	if names := factory.VolumeProviderNames(); name != "" && !slices.Contains(names, name) {
		return fmt.Errorf("unknown --snapshot-provider %q (valid: %s)", name, strings.Join(names, ", "))
	}
	return nil
}

// ExampleConfig returns examples/common/config/<provider>.yaml.
func ExampleConfig(provider string) (*arkv1.Config, error) {
	data, err := examples.Configs.ReadFile("common/config/" + provider + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown provider %q (valid: %s)", provider, strings.Join(factory.ObjectStoreNames(), ", "))
	}
	var cfg arkv1.Config
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("examples/common/config/%s.yaml: %w", provider, err)
	}
	return &cfg, nil
}

// renderConfig is the example Config of the provider with the bucket and the
// providers' config maps of the options (the example's maps are placeholders
// and are replaced, not merged).
func renderConfig(o Options) (*arkv1.Config, error) {
	if err := CheckProvider(o.Provider); err != nil {
		return nil, err
	}
	cfg, err := ExampleConfig(o.Provider)
	if err != nil {
		return nil, err
	}
	cfg.Namespace = o.Namespace
	cfg.TypeMeta = metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Config"}
	cfg.BackupStorageProvider.Bucket = o.Bucket
	config := copyMap(o.BackupLocationConfig)
	if o.Prefix != "" {
		if config["prefix"] != "" && config["prefix"] != o.Prefix {
			return nil, errors.New("--prefix and --backup-location-config prefix=... differ: give one")
		}
		config["prefix"] = o.Prefix
	}
	cfg.BackupStorageProvider.Config = config
	cfg.PersistentVolumeProvider = nil
	if len(o.SnapshotLocationConfig) > 0 || o.SnapshotProvider != "" {
		name := o.SnapshotProvider
		if name == "" {
			name = o.Provider
		}
		cfg.PersistentVolumeProvider = &arkv1.CloudProviderConfig{Name: name, Config: copyMap(o.SnapshotLocationConfig)}
	}
	cfg.RestoreOnlyMode = o.RestoreOnly
	var errs []string
	if o.EncryptionIdentitySecret != "" || o.EncryptionIdentities != nil || len(o.EncryptionRecipients) > 0 {
		secret := o.EncryptionIdentitySecret
		if secret == "" {
			secret = EncryptionSecret
		}
		cfg.Encryption = &arkv1.EncryptionConfig{Recipients: o.EncryptionRecipients, IdentitySecret: &arkv1.SecretKeySelector{Name: secret}}
		if o.EncryptionIdentitySecret == "" && o.EncryptionIdentities == nil && anyKMS(o.EncryptionRecipients) {
			// A KMS key decrypts what it wrapped: no identity Secret to name.
			cfg.Encryption.IdentitySecret = nil
		}
		errs = append(errs, checkIdentities(o.EncryptionRecipients, o.EncryptionIdentities)...)
	}
	errs = append(errs, validation.Config(cfg)...)
	if keys, ok := objectStoreKeys[o.Provider]; ok {
		if err := cloudprovider.CheckConfigKeys(o.Provider, config, keys...); err != nil {
			errs = append(errs, "--backup-location-config: "+err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("the Config would not start a server: %s", strings.Join(errs, "; "))
	}
	if len(cfg.BackupStorageProvider.Config) == 0 {
		cfg.BackupStorageProvider.Config = nil
	}
	return cfg, nil
}

func anyKMS(recipients []string) bool {
	for _, r := range recipients {
		if kms.IsURI(strings.TrimSpace(r)) {
			return true
		}
	}
	return false
}

// checkIdentities checks the identities file of `ark install`: it parses, and holds the
// identity of one of the recipients at least, or the server could not restore its own backups.
func checkIdentities(recipients []string, identities []byte) []string {
	if identities == nil {
		return nil
	}
	ids, err := encryption.ParseIdentities(identities)
	if err != nil {
		return []string{"--encryption-identity-file: " + err.Error()}
	}
	parsed, err := encryption.ParseRecipients(recipients)
	if err != nil || len(parsed) == 0 {
		return nil // validation.Config says what is wrong with the recipients
	}
	for _, r := range parsed {
		if kms.IsURI(r.ID) {
			return nil // a KMS key decrypts what it wrapped
		}
		for _, i := range ids {
			if r.ID == i.ID {
				return nil
			}
		}
	}
	return []string{"--encryption-identity-file holds the identity of none of the --encryption-recipient keys: the server could not restore its own backups"}
}

// renderDeployment is examples/common/10-deployment.yaml in the namespace,
// with the image. For the filesystem provider the bucket's directory is an
// emptyDir (the root filesystem is read-only): backups there live as long
// as the pod, which is what the filesystem provider is for (one machine, tests).
func renderDeployment(o Options, cfg *arkv1.Config) (*unstructured.Unstructured, error) {
	objs, err := decodeAll(examples.Deployment)
	if err != nil || len(objs) != 1 || objs[0].GetKind() != "Deployment" {
		return nil, fmt.Errorf("examples/common/10-deployment.yaml: want one Deployment (%v)", err)
	}
	d := objs[0]
	d.SetNamespace(o.Namespace)
	containers, _, err := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if err != nil || len(containers) != 1 {
		return nil, fmt.Errorf("examples/common/10-deployment.yaml: want one container (%v)", err)
	}
	c := containers[0].(map[string]any)
	c["image"] = o.Image
	if o.Provider == "filesystem" {
		root := cfg.BackupStorageProvider.Config["root"]
		if root == "" {
			root = filesystem.DefaultRoot
		}
		mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
		// The bucket is a directory under root that must exist: the emptyDir is it.
		c["volumeMounts"] = append(mounts, map[string]any{"name": BucketVolume, "mountPath": path.Join(root, cfg.BackupStorageProvider.Bucket)})
		volumes, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "volumes")
		volumes = append(volumes, map[string]any{"name": BucketVolume, "emptyDir": map[string]any{}})
		if err := unstructured.SetNestedSlice(d.Object, volumes, "spec", "template", "spec", "volumes"); err != nil {
			return nil, err
		}
	}
	if err := unstructured.SetNestedSlice(d.Object, []any{c}, "spec", "template", "spec", "containers"); err != nil {
		return nil, err
	}
	return d, nil
}

// Prereqs returns the objects of examples/common/00-prereqs.yaml for namespace
// ns (RewriteForNamespace).
func Prereqs(ns string) ([]*unstructured.Unstructured, error) {
	objs, err := RewriteForNamespace(examples.Prereqs, ns)
	if err != nil {
		return nil, fmt.Errorf("examples/common/00-prereqs.yaml: %w", err)
	}
	return objs, nil
}

// RewriteForNamespace returns the objects of the prereqs manifest (YAML)
// changed to install into namespace ns instead of heptio-ark: the Namespace is
// renamed, namespaced objects and ServiceAccount subjects move to ns, and,
// outside heptio-ark, every ClusterRole and ClusterRoleBinding gets the suffix
// "-<ns>" (with the bindings' roleRefs to match) so that servers in several
// namespaces of one cluster do not share or fight over them. Rules, CRDs and
// everything else stay exactly as shipped.
func RewriteForNamespace(manifest []byte, ns string) ([]*unstructured.Unstructured, error) {
	objs, err := decodeAll(manifest)
	if err != nil {
		return nil, err
	}
	clusterName := func(name string) string {
		if ns == ShippedNamespace {
			return name
		}
		return name + "-" + ns
	}
	for _, u := range objs {
		kind := u.GetKind()
		switch {
		case kind == "Namespace":
			if u.GetName() != ShippedNamespace {
				return nil, fmt.Errorf("the manifest creates namespace %q; only %q is expected", u.GetName(), ShippedNamespace)
			}
			u.SetName(ns)
		case ClusterScoped(kind):
			u.SetName(clusterName(u.GetName()))
		case kind == "CustomResourceDefinition":
		default:
			if u.GetNamespace() != ShippedNamespace {
				return nil, fmt.Errorf("%s %s: namespace %q, want %q", kind, u.GetName(), u.GetNamespace(), ShippedNamespace)
			}
			u.SetNamespace(ns)
		}
		if kind == "ValidatingAdmissionPolicyBinding" {
			name, _, _ := unstructured.NestedString(u.Object, "spec", "policyName")
			if err := unstructured.SetNestedField(u.Object, clusterName(name), "spec", "policyName"); err != nil {
				return nil, err
			}
		}
		if kind == "ClusterRoleBinding" || kind == "RoleBinding" {
			if refKind, _, _ := unstructured.NestedString(u.Object, "roleRef", "kind"); refKind == "ClusterRole" {
				name, _, _ := unstructured.NestedString(u.Object, "roleRef", "name")
				if err := unstructured.SetNestedField(u.Object, clusterName(name), "roleRef", "name"); err != nil {
					return nil, err
				}
			}
			subjects, _, err := unstructured.NestedSlice(u.Object, "subjects")
			if err != nil {
				return nil, err
			}
			for _, s := range subjects {
				if m, ok := s.(map[string]any); ok && m["namespace"] == ShippedNamespace {
					m["namespace"] = ns
				}
			}
			if err := unstructured.SetNestedSlice(u.Object, subjects, "subjects"); err != nil {
				return nil, err
			}
		}
	}
	return objs, nil
}

// ClusterScoped tells the kinds of the manifest, besides CRDs and the
// Namespace, that are not namespaced: each namespace's server gets its own copy.
func ClusterScoped(kind string) bool {
	switch kind {
	case "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
		return true
	}
	return false
}

// WriteYAML writes the objects as one YAML stream ("---" between documents).
func WriteYAML(w io.Writer, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}

func decodeAll(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		if len(u.Object) == 0 {
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	// Drop the empty creationTimestamp and status the typed structs carry.
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return u, nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
