package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupSpec says what a backup takes from the cluster.
type BackupSpec struct {
	// IncludedNamespaces lists the namespaces to back up. Empty, or the single
	// entry "*", means all namespaces.
	// +optional
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`

	// ExcludedNamespaces lists namespaces to leave out, applied after IncludedNamespaces.
	// +optional
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`

	// IncludedResources lists the resources to back up, as plural names
	// ("deployments"), group-qualified names ("deployments.apps") or short names
	// ("deploy"). Empty, or the single entry "*", means all resources.
	// +optional
	// +kubebuilder:validation:items:MinLength=1
	IncludedResources []string `json:"includedResources,omitempty"`

	// ExcludedResources lists resources to leave out, in the same forms as IncludedResources.
	// +optional
	// +kubebuilder:validation:items:MinLength=1
	ExcludedResources []string `json:"excludedResources,omitempty"`

	// LabelSelector, when set, keeps only the objects whose labels match it.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`

	// SnapshotVolumes says whether the persistent volumes of the backed-up claims
	// get disk snapshots through the configured persistentVolumeProvider.
	// Unset means true.
	// +optional
	SnapshotVolumes *bool `json:"snapshotVolumes,omitempty"`

	// TTL is how long the backup is kept before the garbage collector deletes it,
	// its files and its snapshots. Unset or zero means 720h (30 days).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="must be a duration such as 720h, 90m or 30s (units h, m, s, ms, us, ns; no days), at most 2562047h"
	TTL metav1.Duration `json:"ttl,omitempty"`

	// IncludeClusterResources says whether cluster-scoped resources are backed up.
	// Unset means: all of them when the backup covers every namespace, and otherwise
	// only the persistent volumes bound to backed-up claims. False never takes
	// cluster-scoped resources apart from those volumes; true always takes them.
	// +optional
	IncludeClusterResources *bool `json:"includeClusterResources,omitempty"`

	// Hooks are commands run in pods before and after their items are backed up.
	// +optional
	Hooks BackupHooks `json:"hooks,omitempty"`
}

// BackupHooks holds the hooks of a backup.
type BackupHooks struct {
	// Resources lists the hook specifications, each for a set of pods.
	// +optional
	Resources []BackupResourceHookSpec `json:"resources,omitempty"`
}

// BackupResourceHookSpec selects pods and names the hooks to run in them.
type BackupResourceHookSpec struct {
	// Name identifies this hook specification in logs and errors.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// IncludedNamespaces lists the namespaces whose pods run the hooks. Empty means all.
	// +optional
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`

	// ExcludedNamespaces lists namespaces whose pods never run the hooks.
	// +optional
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`

	// LabelSelector selects the pods that run the hooks. Unset means every pod
	// in the selected namespaces.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`

	// Pre hooks run in each selected pod before the pod is backed up.
	// +optional
	Pre []BackupResourceHook `json:"pre,omitempty"`

	// Post hooks run in each selected pod after the pod and its volumes are backed up.
	// +optional
	Post []BackupResourceHook `json:"post,omitempty"`
}

// BackupResourceHook is one hook. Exec is the only kind of hook.
type BackupResourceHook struct {
	// Exec runs a command in a container of the pod.
	Exec *ExecHook `json:"exec"`
}

// HookErrorMode says what a failed hook does to its backup.
// +kubebuilder:validation:Enum=Continue;Fail
type HookErrorMode string

const (
	// HookErrorModeContinue records the failure as an error and goes on.
	HookErrorModeContinue HookErrorMode = "Continue"
	// HookErrorModeFail fails the backup.
	HookErrorModeFail HookErrorMode = "Fail"
)

// ExecHook runs a command in a container through the pods/exec subresource.
type ExecHook struct {
	// Container is the name of the container to run the command in. Empty means
	// the pod's first container.
	// +optional
	Container string `json:"container,omitempty"`

	// Command is the command and its arguments, run without a shell.
	// +kubebuilder:validation:MinItems=1
	Command []string `json:"command"`

	// OnError says what a failure of the command does: Continue (the default)
	// records an error and goes on, Fail fails the backup.
	// +optional
	OnError HookErrorMode `json:"onError,omitempty"`

	// Timeout is how long the command may run. Unset or zero means 30s.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="must be a duration such as 720h, 90m or 30s (units h, m, s, ms, us, ns; no days), at most 2562047h"
	Timeout metav1.Duration `json:"timeout,omitempty"`
}

// BackupPhase is where a backup is in its life.
// +kubebuilder:validation:Enum=New;FailedValidation;InProgress;Completed;PartiallyFailed;Failed;Deleting
type BackupPhase string

const (
	// BackupPhaseNew is a backup the server has not looked at yet.
	BackupPhaseNew BackupPhase = "New"
	// BackupPhaseFailedValidation is a backup whose spec is invalid; see validationErrors.
	BackupPhaseFailedValidation BackupPhase = "FailedValidation"
	// BackupPhaseInProgress is a backup being taken.
	BackupPhaseInProgress BackupPhase = "InProgress"
	// BackupPhaseCompleted is a backup taken whole, with no errors.
	BackupPhaseCompleted BackupPhase = "Completed"
	// BackupPhasePartiallyFailed is a backup that was written, but with item errors.
	BackupPhasePartiallyFailed BackupPhase = "PartiallyFailed"
	// BackupPhaseFailed is a backup that could not be taken; see failureReason.
	BackupPhaseFailed BackupPhase = "Failed"
	// BackupPhaseDeleting is a backup a DeleteBackupRequest (or its expiry) is removing.
	BackupPhaseDeleting BackupPhase = "Deleting"
)

// IsFinal says whether a backup in this phase will not change any more on its own.
func (p BackupPhase) IsFinal() bool {
	switch p {
	case BackupPhaseFailedValidation, BackupPhaseCompleted, BackupPhasePartiallyFailed, BackupPhaseFailed:
		return true
	}
	return false
}

// BackupProgress counts the items of a backup while it runs.
type BackupProgress struct {
	// TotalItems is the number of items the backup expects to write, as far as it knows yet.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TotalItems int `json:"totalItems,omitempty"`
	// ItemsBackedUp is the number of items written so far.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ItemsBackedUp int `json:"itemsBackedUp,omitempty"`
}

// VolumeBackupInfo records the snapshot of one persistent volume.
type VolumeBackupInfo struct {
	// SnapshotID is the provider's identifier of the snapshot.
	SnapshotID string `json:"snapshotID"`
	// Type is the volume type of the original disk (e.g. gp3, pd-ssd).
	// +optional
	Type string `json:"type,omitempty"`
	// AvailabilityZone is where the original disk lived.
	// +optional
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// Iops is the provisioned IOPS of the original disk, if it had any.
	// +optional
	Iops *int64 `json:"iops,omitempty"`
}

// BackupStatus is what the server observed of a backup.
type BackupStatus struct {
	// Version of the backup format written into the bucket.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Version int `json:"version,omitempty"`

	// Phase is where the backup is in its life.
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`

	// ValidationErrors lists what is wrong with the spec when the phase is FailedValidation.
	// +optional
	ValidationErrors []string `json:"validationErrors,omitempty"`

	// FailureReason says why the backup failed when the phase is Failed.
	// +optional
	FailureReason string `json:"failureReason,omitempty"`

	// Expiration is when the garbage collector will delete the backup.
	// +optional
	Expiration *metav1.Time `json:"expiration,omitempty"`

	// StartTimestamp is when the server started taking the backup.
	// +optional
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`

	// CompletionTimestamp is when the backup reached a final phase.
	// +optional
	CompletionTimestamp *metav1.Time `json:"completionTimestamp,omitempty"`

	// Progress counts the items while the backup runs.
	// +optional
	Progress *BackupProgress `json:"progress,omitempty"`

	// ResourceVersion is the cluster's resourceVersion the backup was read at:
	// every resource listed at exactly this version shows the cluster at one instant.
	// +optional
	ResourceVersion string `json:"resourceVersion,omitempty"`

	// InconsistentResources lists the resources that could not be read at
	// ResourceVersion and were read fresh instead, so the backup is not one
	// instant for them.
	// +optional
	InconsistentResources []string `json:"inconsistentResources,omitempty"`
	// LeftOut names what the backup left out because its requester may not
	// read it (the server acts as the requester): one entry per resource,
	// with the namespaces or objects ("configmaps in namespaces ns2, ns3",
	// "persistentvolumes pv1"). Each is also a warning.
	// +optional
	LeftOut []string `json:"leftOut,omitempty"`

	// Warnings counts the warnings the backup logged.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Warnings int `json:"warnings,omitempty"`

	// Errors counts the item errors the backup logged.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Errors int `json:"errors,omitempty"`

	// VolumeBackups maps each snapshotted persistent volume's name to its snapshot.
	// +optional
	VolumeBackups map[string]*VolumeBackupInfo `json:"volumeBackups,omitempty"`

	// VolumeSnapshotsFailed counts the volume snapshots the backup attempted that
	// failed (each is also one of Errors); VolumeBackups holds the ones that worked.
	// +optional
	// +kubebuilder:validation:Minimum=0
	VolumeSnapshotsFailed int `json:"volumeSnapshotsFailed,omitempty"`

	// Contents is the size and SHA-256 of the backup's tarball as uploaded: restores
	// and `ark backup download` refuse a tarball that does not match.
	// +optional
	Contents *ContentsChecksum `json:"contents,omitempty"`

	// Encryption, when set, says the backup's files in the bucket (tarball, log, resource
	// list, its restores' logs and results) are encrypted, and for which keys.
	// +optional
	Encryption *BackupEncryption `json:"encryption,omitempty"`

	// LastVerified is when the backup was last verified (BackupVerificationRequest).
	// +optional
	LastVerified *metav1.Time `json:"lastVerified,omitempty"`

	// Verification is the result of the backup's last verification.
	// +optional
	Verification *BackupVerification `json:"verification,omitempty"`

	// ClusterID identifies the cluster whose server took the backup (the UID of its
	// kube-system namespace). With the Backup's UID, recorded in the bucket's copy of
	// this object, it says which backup the bucket's files of this name belong to.
	// +optional
	ClusterID string `json:"clusterID,omitempty"`
}

// BackupEncryption records how a backup's files are encrypted. It names keys by public
// identifiers only, never key material.
type BackupEncryption struct {
	// Scheme is the encryption format: "age" (age-encryption.org/v1).
	Scheme string `json:"scheme"`
	// KeyIDs identify the keys the backup is encrypted for: age X25519 recipients
	// ("age1…") or KMS key URIs. Any one of their identities decrypts the backup.
	// +optional
	KeyIDs []string `json:"keyIDs,omitempty"`
}

// EncryptionSchemeAge is BackupEncryption.Scheme of files encrypted with age.
const EncryptionSchemeAge = "age"

// ContentsChecksum is the size and digest of a backup's tarball.
type ContentsChecksum struct {
	// Size is the tarball's length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the lowercase hex SHA-256 of the tarball.
	SHA256 string `json:"sha256"`
}

// Backup is a request to back up, and the record of, a set of Kubernetes objects
// and the disk snapshots of their persistent volumes.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=ark,shortName=bkp
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`,description="Where the backup is in its life"
// +kubebuilder:printcolumn:name="Created",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Expires",type=string,format=date-time,JSONPath=`.status.expiration`,description="When the backup is deleted"
// +kubebuilder:printcolumn:name="Items",type=integer,JSONPath=`.status.progress.itemsBackedUp`,priority=1
// +kubebuilder:printcolumn:name="Errors",type=integer,JSONPath=`.status.errors`,priority=1
type Backup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to back up.
	// +optional
	Spec BackupSpec `json:"spec,omitempty"`

	// Status is what the server observed.
	// +optional
	Status BackupStatus `json:"status,omitempty"`
}

// BackupList is a list of Backups.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type BackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Backup `json:"items"`
}
