package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/klog/v2"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/factory"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
	"github.com/heptio/ark/pkg/encryption"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	"github.com/heptio/ark/pkg/persistence"
	"github.com/heptio/ark/pkg/validation"
)

// loadConfig reads and checks the Config named default in namespace.
func loadConfig(ctx context.Context, client arkclient.Interface, namespace string) (*arkv1.Config, error) {
	cfg, err := client.ArkV1().Configs(namespace).Get(ctx, arkv1.DefaultConfigName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("no Config %q in namespace %q: create one (see examples/common/ for each provider) and start the server again", arkv1.DefaultConfigName, namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Config %s/%s: %w", namespace, arkv1.DefaultConfigName, err)
	}
	if errs := validation.Config(cfg); len(errs) > 0 {
		return nil, fmt.Errorf("Config %s/%s is invalid: %s", namespace, arkv1.DefaultConfigName, strings.Join(errs, "; "))
	}
	// A Velero bucket is read-only to ark: the server only restores from it.
	if cfg.BackupStorageProvider.Config[persistence.LayoutConfigKey] == "velero" && !cfg.RestoreOnlyMode {
		klog.FromContext(ctx).Info("The bucket has Velero's layout: running in restore-only mode, nothing is written to it or deleted from it")
		cfg.RestoreOnlyMode = true
	}
	return cfg, nil
}

// loadKeyring reads the keys of Config.encryption: the recipients from the Config, the
// identities from its Secret in namespace. No encryption section gives a nil Keyring
// (nothing encrypted, nothing decrypted). The Secret is read once: after changing it,
// restart the server (a change of the Config restarts it by itself).
func loadKeyring(ctx context.Context, secrets typedcorev1.SecretsGetter, namespace string, cfg *arkv1.Config) (*encryption.Keyring, error) {
	e := cfg.Encryption
	if e == nil {
		return nil, nil
	}
	recipients, err := encryption.ParseRecipients(e.Recipients)
	if err != nil {
		return nil, fmt.Errorf("Config encryption: %w", err)
	}
	var identities []encryption.Identity
	if ref := e.IdentitySecret; ref != nil {
		key := ref.Key
		if key == "" {
			key = arkv1.DefaultIdentitySecretKey
		}
		secret, err := secrets.Secrets(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading the encryption identities (Config encryption.identitySecret, Secret %s/%s): %w", namespace, ref.Name, err)
		}
		data, ok := secret.Data[key]
		if !ok {
			return nil, fmt.Errorf("the Secret %s/%s of the encryption identities has no key %q", namespace, ref.Name, key)
		}
		if identities, err = encryption.ParseIdentities(data); err != nil {
			return nil, fmt.Errorf("the encryption identities in Secret %s/%s, key %q: %w", namespace, ref.Name, key, err)
		}
	}
	k := encryption.NewKeyring(recipients, identities)
	if err := k.OpenKMS(ctx); err != nil {
		return nil, fmt.Errorf("Config encryption: %w", err)
	}
	klog.FromContext(ctx).Info("Client-side encryption configured", "encryptFor", k.RecipientIDs(), "decryptWith", k.IdentityIDs())
	return k, nil
}

// objectStorage is the bucket of the Config, and for the filesystem provider
// the handler that serves its signed download URLs.
type objectStorage struct {
	store           cloudprovider.ObjectStore
	backups         *persistence.BackupStore
	downloadHandler http.Handler // nil unless the provider is filesystem
}

// newObjectStorage builds the object store of the Config. For filesystem, a
// missing downloadURL is pointed at this server's own HTTP listener.
func newObjectStorage(ctx context.Context, cfg *arkv1.Config, httpAddress string) (*objectStorage, error) {
	p := cfg.BackupStorageProvider
	config := map[string]string{}
	for k, v := range p.Config {
		config[k] = v
	}
	if p.Name == "filesystem" && config["downloadURL"] == "" && httpAddress != "" {
		config["downloadURL"] = "http://" + advertisedAddress(httpAddress) + downloadPath
	}
	store, err := factory.NewObjectStore(ctx, p.Name, config)
	if err != nil {
		return nil, fmt.Errorf("backupStorageProvider %q: %w", p.Name, err)
	}
	backups, err := persistence.NewBackupStoreForLayout(store, p.Bucket, config["prefix"], config[persistence.LayoutConfigKey])
	if err != nil {
		return nil, err
	}
	os := &objectStorage{store: store, backups: backups}
	if fs, ok := cloudprovider.Unwrap(store).(*filesystem.ObjectStore); ok {
		os.downloadHandler = fs.DownloadHandler()
	}
	return os, nil
}

// advertisedAddress turns a listen address such as ":8085" into one a client
// on this machine can reach.
func advertisedAddress(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
