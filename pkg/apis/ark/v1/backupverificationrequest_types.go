package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupVerificationRequestSpec names the backup to verify.
type BackupVerificationRequestSpec struct {
	// BackupName is the name of the backup to verify.
	// +kubebuilder:validation:MinLength=1
	BackupName string `json:"backupName"`
}

// BackupVerificationRequestPhase is where a verification request is in its life.
// +kubebuilder:validation:Enum=New;InProgress;Processed
type BackupVerificationRequestPhase string

const (
	// BackupVerificationRequestPhaseNew is a request the server has not looked at yet.
	BackupVerificationRequestPhaseNew BackupVerificationRequestPhase = "New"
	// BackupVerificationRequestPhaseInProgress is a request being carried out.
	BackupVerificationRequestPhaseInProgress BackupVerificationRequestPhase = "InProgress"
	// BackupVerificationRequestPhaseProcessed is a request carried out: its
	// verification says what was found.
	BackupVerificationRequestPhaseProcessed BackupVerificationRequestPhase = "Processed"
)

// BackupVerificationRequestStatus is what the server did of a request.
type BackupVerificationRequestStatus struct {
	// Phase is where the request is in its life.
	// +optional
	Phase BackupVerificationRequestPhase `json:"phase,omitempty"`
	// Verification is the result, as also recorded in the Backup's status.
	// +optional
	Verification *BackupVerification `json:"verification,omitempty"`
}

// BackupVerificationRequest asks the server to verify a backup: read its tarball
// from the bucket and check its size and SHA-256 against its metadata, decode
// every item, and check that every volume snapshot it names still exists. The
// result goes into the request's and the Backup's status (lastVerified,
// verification). `ark backup verify` creates one; so does a Schedule with
// verify: true for each backup it makes.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=ark,shortName=bvr
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupName`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Result",type=string,JSONPath=`.status.verification.phase`
// +kubebuilder:printcolumn:name="Created",type=date,JSONPath=`.metadata.creationTimestamp`
type BackupVerificationRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec names the backup.
	// +optional
	Spec BackupVerificationRequestSpec `json:"spec,omitempty"`

	// Status is what the server did.
	// +optional
	Status BackupVerificationRequestStatus `json:"status,omitempty"`
}

// BackupVerificationRequestList is a list of BackupVerificationRequests.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type BackupVerificationRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []BackupVerificationRequest `json:"items"`
}

// BackupVerificationPhase is the outcome of a verification.
// +kubebuilder:validation:Enum=Passed;Failed
type BackupVerificationPhase string

const (
	// BackupVerificationPassed: the tarball matches its checksum and size,
	// every item decodes, every snapshot exists.
	BackupVerificationPassed BackupVerificationPhase = "Passed"
	// BackupVerificationFailed: see problems.
	BackupVerificationFailed BackupVerificationPhase = "Failed"
)

// BackupVerification is the result of a backup's verification.
type BackupVerification struct {
	// Phase is Passed or Failed.
	Phase BackupVerificationPhase `json:"phase"`
	// Problems lists what is wrong (Failed) or could not be checked (a
	// backup whose metadata records no checksum, a snapshot whose tags the
	// provider cannot read).
	// +optional
	Problems []string `json:"problems,omitempty"`
	// Items is the number of items decoded from the tarball.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Items int `json:"items,omitempty"`
	// Snapshots is the number of volume snapshots checked.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Snapshots int `json:"snapshots,omitempty"`
	// Request is the name of the BackupVerificationRequest that did it.
	// +optional
	Request string `json:"request,omitempty"`
	// Time is when the verification finished.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
}
