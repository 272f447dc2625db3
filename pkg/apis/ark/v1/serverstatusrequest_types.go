package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServerStatusRequestPhase is where a server status request is in its life.
// +kubebuilder:validation:Enum=New;Processed
type ServerStatusRequestPhase string

const (
	// ServerStatusRequestPhaseNew is a request no server has answered yet.
	ServerStatusRequestPhaseNew ServerStatusRequestPhase = "New"
	// ServerStatusRequestPhaseProcessed is a request a server answered.
	ServerStatusRequestPhaseProcessed ServerStatusRequestPhase = "Processed"
)

// ServerStatusRequestStatus is the answering server's report.
type ServerStatusRequestStatus struct {
	// Phase is where the request is in its life.
	// +optional
	Phase ServerStatusRequestPhase `json:"phase,omitempty"`
	// ServerVersion is the version of the ark server that answered (as `ark version` prints it).
	// +optional
	ServerVersion string `json:"serverVersion,omitempty"`
	// GitCommit is the commit the answering server was built from.
	// +optional
	GitCommit string `json:"gitCommit,omitempty"`
	// ProcessedTimestamp is when the server answered; the request is deleted a minute later.
	// +optional
	ProcessedTimestamp *metav1.Time `json:"processedTimestamp,omitempty"`
}

// ServerStatusRequest asks the running ark server for its version (`ark
// version`). It is a request rather than a record the server keeps up to date
// so that an answer proves a server runs now, and so that whoever may create
// DownloadRequests may ask without any other grant (Velero's kind of the same
// name works the same way). The server deletes it a minute after answering.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=ark,shortName=ssr
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.serverVersion`
// +kubebuilder:printcolumn:name="Created",type=date,JSONPath=`.metadata.creationTimestamp`
type ServerStatusRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Status is the server's answer.
	// +optional
	Status ServerStatusRequestStatus `json:"status,omitempty"`
}

// ServerStatusRequestList is a list of ServerStatusRequests.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type ServerStatusRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ServerStatusRequest `json:"items"`
}
