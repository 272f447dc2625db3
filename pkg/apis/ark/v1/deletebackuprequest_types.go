package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeleteBackupRequestSpec names the backup to delete.
type DeleteBackupRequestSpec struct {
	// BackupName is the name of the backup to delete: its files in the bucket, its
	// volume snapshots, the files and objects of its restores, and its Backup object.
	// +kubebuilder:validation:MinLength=1
	BackupName string `json:"backupName"`
}

// DeleteBackupRequestPhase is where a deletion request is in its life.
// +kubebuilder:validation:Enum=New;InProgress;Processed
type DeleteBackupRequestPhase string

const (
	// DeleteBackupRequestPhaseNew is a request the server has not looked at yet.
	DeleteBackupRequestPhaseNew DeleteBackupRequestPhase = "New"
	// DeleteBackupRequestPhaseInProgress is a request being carried out; its errors
	// say what a step that failed is waiting for (it is retried).
	DeleteBackupRequestPhaseInProgress DeleteBackupRequestPhase = "InProgress"
	// DeleteBackupRequestPhaseProcessed is a request carried out as far as it could be;
	// its errors list what was left alone and why.
	DeleteBackupRequestPhaseProcessed DeleteBackupRequestPhase = "Processed"
)

// DeleteBackupRequestStatus is what the server did of a request.
type DeleteBackupRequestStatus struct {
	// Phase is where the request is in its life.
	// +optional
	Phase DeleteBackupRequestPhase `json:"phase,omitempty"`
	// Errors lists what failed or was left alone (a snapshot the cloud does not say
	// is this backup's, another backup's files of the same name).
	// +optional
	Errors []string `json:"errors,omitempty"`
}

// DeleteBackupRequest asks the server to delete a backup completely. It is the only
// way, besides the backup's expiry, to delete anything from the bucket: deleting a
// Backup object by any other means (kubectl, its namespace, its CRD) removes only the
// object, and the backup sync brings it back from the bucket.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=ark,shortName=dbr
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupName`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Created",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Errors",type=string,JSONPath=`.status.errors`,priority=1
type DeleteBackupRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec names the backup.
	// +optional
	Spec DeleteBackupRequestSpec `json:"spec,omitempty"`

	// Status is what the server did.
	// +optional
	Status DeleteBackupRequestStatus `json:"status,omitempty"`
}

// DeleteBackupRequestList is a list of DeleteBackupRequests.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type DeleteBackupRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []DeleteBackupRequest `json:"items"`
}
