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
//
// The API server refuses what the server would refuse at start (pkg/validation
// encryptionConfig): a Config that encrypts must name the Secret of identities, without
// which its own backups could not be restored, unless a KMS key is among the recipients
// (it decrypts what it wrapped); one that does neither needs at least the Secret.
// +kubebuilder:validation:XValidation:rule="has(self.identitySecret) || (has(self.recipients) && size(self.recipients) > 0)",message="encryption needs recipients (to encrypt new backups) or identitySecret (to decrypt backups)"
// +kubebuilder:validation:XValidation:rule=`has(self.identitySecret) || !has(self.recipients) || size(self.recipients) == 0 || self.recipients.exists(r, r.matches(r'^[\t\n\v\f\r\x{85}\pZ]*(awskms|gcpkms|azurekeyvault)://'))`,message="identitySecret is required with age recipients: without an identity the server cannot restore its own backups (only a KMS key decrypts what it wrapped)"
type EncryptionConfig struct {
	// Recipients are the keys every new backup is encrypted for: age X25519 recipients
	// ("age1…", as age-keygen -y prints them) or cloud KMS keys (awskms://…, gcpkms://…,
	// azurekeyvault://…; package kms). Any one of them decrypts: list this cluster's key, a
	// second cluster's (migration) and an offline break-glass key. Empty means new backups
	// are not encrypted, while identitySecret still decrypts older ones.
	//
	// The API server checks each one's form as encryption.ParseRecipient does, after the
	// white space around it that the server trims, but not an age key's checksum nor a
	// KMS URI's query: with those wrong, the server refuses to start.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:XValidation:rule=`self.matches(r'^[\t\n\v\f\r\x{85}\pZ]*(age1|awskms://|gcpkms://|azurekeyvault://)')`,message="must be an age X25519 recipient (age1…) or a KMS key URI (awskms://, gcpkms://, azurekeyvault://)"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[\t\n\v\f\r\x{85}\pZ]*age1') || self.matches(r'^[\t\n\v\f\r\x{85}\pZ]*age1(?:[02-9ac-hj-nq-z][02-9ac-hj-np-z]{57}|p[02-9ac-hj-npr-z][02-9ac-hj-np-z]{56})[\t\n\v\f\r\x{85}\pZ]*$')`,message="an age recipient is age1 and 58 bech32 characters, as age-keygen -y prints it (post-quantum age1pq… keys are not supported)"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[\t\n\v\f\r\x{85}\pZ]*awskms://') || self.matches(r'^[\t\n\v\f\r\x{85}\pZ]*awskms://(?:arn:[^:?# \t\n\r]*:kms:[^:?# \t\n\r]+:[^:?# \t\n\r]+:(?:key|alias)/[^?# \t\n\r]*|alias/[^?# \t\n\r]+|[^/:?# \t\n\r]+)(?:\?(?s:.*))?[\t\n\v\f\r\x{85}\pZ]*$')`,message="an AWS KMS key is awskms://<key id | key ARN | alias/NAME>[?region=R]"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[\t\n\v\f\r\x{85}\pZ]*gcpkms://') || self.matches(r'^[\t\n\v\f\r\x{85}\pZ]*gcpkms://projects/[^/?]+/locations/[^/?]+/keyRings/[^/?]+/cryptoKeys/[^/?]+(?:\?(?s:.*))?$')`,message="a Cloud KMS key is gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K (the CryptoKey, not one of its versions)"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[\t\n\v\f\r\x{85}\pZ]*azurekeyvault://') || self.matches(r'^[\t\n\v\f\r\x{85}\pZ]*azurekeyvault://[^/?#@]+/keys/[0-9A-Za-z-]{1,127}(?:/[0-9A-Za-z]{1,64})?[\t\n\v\f\r\x{85}\pZ]*$')`,message="an Azure Key Vault key is azurekeyvault://<vault host>/keys/<name>[/<version>]"
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
	// Name is the Secret's name (a DNS-1123 subdomain).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
	// Key is the key in the Secret's data (letters, digits, '-', '_' and '.'; not "." nor
	// starting with ".."). Unset means "identities".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]*$`
	// +kubebuilder:validation:XValidation:rule="self != '.' && !self.startsWith('..')",message="must not be '.' nor start with '..'"
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
