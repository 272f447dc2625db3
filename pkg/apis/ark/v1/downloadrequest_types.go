package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DownloadTargetKind is the kind of file a download request asks for.
// +kubebuilder:validation:Enum=BackupLog;BackupContents;BackupResourceList;RestoreLog;RestoreResults
type DownloadTargetKind string

const (
	// DownloadTargetKindBackupLog is a backup's log.
	DownloadTargetKindBackupLog DownloadTargetKind = "BackupLog"
	// DownloadTargetKindBackupContents is a backup's tarball.
	DownloadTargetKindBackupContents DownloadTargetKind = "BackupContents"
	// DownloadTargetKindBackupResourceList is the list of the objects in a backup, by
	// resource: a small gzipped JSON object kept beside the tarball (Velero's format).
	DownloadTargetKindBackupResourceList DownloadTargetKind = "BackupResourceList"
	// DownloadTargetKindRestoreLog is a restore's log.
	DownloadTargetKindRestoreLog DownloadTargetKind = "RestoreLog"
	// DownloadTargetKindRestoreResults is a restore's warnings and errors.
	DownloadTargetKindRestoreResults DownloadTargetKind = "RestoreResults"
)

// DownloadTarget names the file to download.
type DownloadTarget struct {
	// Kind is the kind of file.
	Kind DownloadTargetKind `json:"kind"`
	// Name is the name of the backup or restore the file belongs to.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// DownloadRequestSpec says which file is wanted.
type DownloadRequestSpec struct {
	// Target is the file to download.
	Target DownloadTarget `json:"target"`
	// Recipient is an age X25519 recipient ("age1…") of the client, usually made for
	// this one request. When the file is encrypted in the bucket, the server decrypts
	// it and encrypts it again for this recipient into a temporary object, deleted when
	// the request expires: the client decrypts with its identity, and no plaintext is
	// ever written to the bucket. Unset: the URL gives the file as stored.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Recipient string `json:"recipient,omitempty"`
}

// DownloadRequestPhase is where a download request is in its life.
// +kubebuilder:validation:Enum=New;Processed;Failed
type DownloadRequestPhase string

const (
	// DownloadRequestPhaseNew is a request the server has not answered yet.
	DownloadRequestPhaseNew DownloadRequestPhase = "New"
	// DownloadRequestPhaseProcessed is a request with a download URL.
	DownloadRequestPhaseProcessed DownloadRequestPhase = "Processed"
	// DownloadRequestPhaseFailed is a request that could not be answered; see failureReason.
	DownloadRequestPhaseFailed DownloadRequestPhase = "Failed"
)

// DownloadRequestStatus is the server's answer.
type DownloadRequestStatus struct {
	// Phase is where the request is in its life.
	// +optional
	Phase DownloadRequestPhase `json:"phase,omitempty"`
	// DownloadURL is a pre-signed, short-lived URL of the file.
	// +optional
	DownloadURL string `json:"downloadURL,omitempty"`
	// Expiration is when the URL stops working and the request is deleted.
	// +optional
	Expiration *metav1.Time `json:"expiration,omitempty"`
	// FailureReason says why no URL could be made, when the phase is Failed.
	// +optional
	FailureReason string `json:"failureReason,omitempty"`
}

// DownloadRequest asks the server for a short-lived URL of a backup's or a
// restore's file in the bucket, so the client never needs bucket credentials.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=ark,shortName=dlr
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.target.kind`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.target.name`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Created",type=date,JSONPath=`.metadata.creationTimestamp`
type DownloadRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec names the file.
	// +optional
	Spec DownloadRequestSpec `json:"spec,omitempty"`

	// Status is the server's answer.
	// +optional
	Status DownloadRequestStatus `json:"status,omitempty"`
}

// DownloadRequestList is a list of DownloadRequests.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type DownloadRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []DownloadRequest `json:"items"`
}
