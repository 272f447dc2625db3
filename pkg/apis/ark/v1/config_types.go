package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultConfigName is the name of the one Config the server reads.
const DefaultConfigName = "default"

// CloudProviderConfig names a provider and its settings.
type CloudProviderConfig struct {
	// Name is the provider: aws, gcp or azure (and filesystem for object storage,
	// csi for volumes).
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Config holds the provider's settings, such as region or s3Url. Credentials
	// never go here: they come from the provider's usual environment and files.
	// +optional
	Config map[string]string `json:"config,omitempty"`
}

// ObjectStorageProviderConfig names the object store that holds the backups.
// +kubebuilder:validation:XValidation:rule="self.name in ['aws', 'gcp', 'azure', 'filesystem']",message="name must be one of aws, gcp, azure, filesystem"
type ObjectStorageProviderConfig struct {
	CloudProviderConfig `json:",inline"`

	// Bucket is the bucket (container, or for filesystem the directory under
	// config.root) that holds the backups.
	// +kubebuilder:validation:MinLength=1
	Bucket string `json:"bucket"`
}

// Config is the ark server's settings. Its fields sit at the top level, with no
// spec, as in Ark, so that users' files keep working. The server reads the one
// named "default" in its namespace.
//
// +genclient
// +genclient:noStatus
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=ark,shortName=arkconfig
// +kubebuilder:printcolumn:name="Storage",type=string,JSONPath=`.backupStorageProvider.name`
// +kubebuilder:printcolumn:name="Bucket",type=string,JSONPath=`.backupStorageProvider.bucket`
// +kubebuilder:printcolumn:name="Restore Only",type=boolean,JSONPath=`.restoreOnlyMode`
type Config struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// PersistentVolumeProvider takes and restores disk snapshots. Unset means
	// volumes are not snapshotted (a backup then records a warning per volume).
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.name in ['aws', 'gcp', 'azure', 'csi']",message="name must be one of aws, gcp, azure, csi"
	PersistentVolumeProvider *CloudProviderConfig `json:"persistentVolumeProvider,omitempty"`

	// BackupStorageProvider is the object store that holds the backups.
	BackupStorageProvider ObjectStorageProviderConfig `json:"backupStorageProvider"`

	// BackupSyncPeriod is how often the bucket is compared with the cluster's
	// Backup objects. Unset or zero means 60m.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="must be a duration such as 720h, 90m or 30s (units h, m, s, ms, us, ns; no days), at most 2562047h"
	BackupSyncPeriod metav1.Duration `json:"backupSyncPeriod,omitempty"`

	// GCSyncPeriod is how often expired backups are looked for. Unset or zero means 60m.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="must be a duration such as 720h, 90m or 30s (units h, m, s, ms, us, ns; no days), at most 2562047h"
	GCSyncPeriod metav1.Duration `json:"gcSyncPeriod,omitempty"`

	// ScheduleSyncPeriod is how often schedules are checked even without a change.
	// Unset or zero means 1m.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="must be a duration such as 720h, 90m or 30s (units h, m, s, ms, us, ns; no days), at most 2562047h"
	ScheduleSyncPeriod metav1.Duration `json:"scheduleSyncPeriod,omitempty"`

	// ResourcePriorities lists the resources a restore creates first, in order.
	// Unset means customresourcedefinitions, namespaces, persistentvolumes,
	// persistentvolumeclaims, secrets, configmaps, serviceaccounts, limitranges.
	// +optional
	// +kubebuilder:validation:items:MinLength=1
	ResourcePriorities []string `json:"resourcePriorities,omitempty"`

	// RestoreOnlyMode runs only the restore, sync and download controllers: no
	// backup is taken and none is deleted, as during a disaster recovery.
	// +optional
	RestoreOnlyMode bool `json:"restoreOnlyMode,omitempty"`

	// Encryption has the server encrypt what it writes to the bucket (tarballs, logs,
	// resource lists, restore results) with age before it leaves the server. Unset means
	// nothing is encrypted; backups encrypted earlier still need identitySecret.
	// +optional
	Encryption *EncryptionConfig `json:"encryption,omitempty"`
}

// EncryptionConfig names the keys of client-side encryption (README, Encryption).
type EncryptionConfig struct {
	// Recipients are the public keys every new backup is encrypted for: age X25519
	// recipients ("age1…"). Any one of them decrypts: list this cluster's key, a second
	// cluster's (migration) and an offline break-glass key. Empty means new backups are
	// not encrypted, while identitySecret still decrypts older ones.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	Recipients []string `json:"recipients,omitempty"`

	// IdentitySecret is a Secret in the server's namespace holding the age identities
	// ("AGE-SECRET-KEY-1…" lines, as age-keygen writes them) that decrypt backups for
	// restores, verification and downloads. Keep old identities in it after a rotation
	// while backups encrypted for them remain.
	// +optional
	IdentitySecret *SecretKeySelector `json:"identitySecret,omitempty"`
}

// SecretKeySelector names a key of a Secret in the server's namespace.
type SecretKeySelector struct {
	// Name is the Secret's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key is the key in the Secret's data. Unset means "identities".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// DefaultIdentitySecretKey is the key of the identities in the Secret of
// EncryptionConfig.IdentitySecret when none is named.
const DefaultIdentitySecretKey = "identities"

// ConfigList is a list of Configs.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type ConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Config `json:"items"`
}
