package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RestoreSpec says what a restore recreates, and from which backup.
type RestoreSpec struct {
	// BackupName is the name of the backup to restore from.
	// +kubebuilder:validation:MinLength=1
	BackupName string `json:"backupName"`

	// IncludedNamespaces lists the namespaces of the backup to restore. Empty, or
	// the single entry "*", means all of them.
	// +optional
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`

	// ExcludedNamespaces lists namespaces of the backup not to restore.
	// +optional
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`

	// IncludedResources lists the resources to restore (plural, group-qualified
	// or short names). Empty, or the single entry "*", means all of them.
	// +optional
	// +kubebuilder:validation:items:MinLength=1
	IncludedResources []string `json:"includedResources,omitempty"`

	// ExcludedResources lists resources not to restore.
	// +optional
	// +kubebuilder:validation:items:MinLength=1
	ExcludedResources []string `json:"excludedResources,omitempty"`

	// NamespaceMapping maps a namespace of the backup to the namespace its objects
	// are restored into. Namespaces not in the map keep their names. Sources and
	// targets must be namespace names, and no two sources may map to one target:
	// the server checks that (FailedValidation).
	// +optional
	NamespaceMapping map[string]string `json:"namespaceMapping,omitempty"`

	// AllowProtectedNamespaceTargets lets namespaceMapping map into a protected
	// namespace: kube-system, kube-public, kube-node-lease or the ark server's
	// own. Without it such a mapping fails validation: what a backup holds of
	// one team's namespace must not land, by a typo or on purpose, where the
	// cluster's own components (or the ark server and its credentials) live.
	// +optional
	AllowProtectedNamespaceTargets bool `json:"allowProtectedNamespaceTargets,omitempty"`

	// LabelSelector, when set, restores only the objects whose labels match it.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`

	// RestorePVs says whether persistent volumes are recreated from their snapshots.
	// Unset means true when the backup has snapshots.
	// +optional
	RestorePVs *bool `json:"restorePVs,omitempty"`

	// ExistingResourcePolicy says what the restore does with an object of the
	// backup that already exists in the cluster: "none" (the default) leaves
	// it untouched, with a warning; "update" brings it to its backed-up state
	// by server-side apply (field manager "ark", taking over only the fields
	// the backup holds). Either way, an object equal to its backed-up state is
	// counted as unchanged, not as a warning.
	// +optional
	ExistingResourcePolicy ExistingResourcePolicy `json:"existingResourcePolicy,omitempty"`

	// PreserveNodePorts keeps the node ports of restored Services when they are
	// free in the cluster (a port already allocated is left to the cluster to
	// choose, with a warning). Unset or false: every node port is chosen anew.
	// +optional
	PreserveNodePorts *bool `json:"preserveNodePorts,omitempty"`

	// DryRun runs the whole restore (filters, mapping, order,
	// transformations, existingResourcePolicy) with every write sent to the
	// API server as a server-side dry run (dryRun=All): admission (quotas,
	// policies, webhooks, validation) answers as for real, and nothing is
	// created or changed. No volume is restored from a snapshot. The restore
	// ends DryRunCompleted; its results list, by namespace, what it would
	// create, update, leave untouched and skip, and what would fail.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
}

// ExistingResourcePolicy says what a restore does with objects that already exist.
// +kubebuilder:validation:Enum=none;update
type ExistingResourcePolicy string

const (
	// ExistingResourcePolicyNone leaves existing objects untouched (a warning each).
	ExistingResourcePolicyNone ExistingResourcePolicy = "none"
	// ExistingResourcePolicyUpdate brings existing objects to their backed-up state.
	ExistingResourcePolicyUpdate ExistingResourcePolicy = "update"
)

// ExistingResourcePolicies are the policies a restore takes, as the Enum marker of
// ExistingResourcePolicy says to the API server (pkg/validation checks them for the
// server and the CLI).
var ExistingResourcePolicies = []ExistingResourcePolicy{ExistingResourcePolicyNone, ExistingResourcePolicyUpdate}

// RestorePhase is where a restore is in its life.
// +kubebuilder:validation:Enum=New;FailedValidation;InProgress;Completed;PartiallyFailed;Failed;DryRunCompleted
type RestorePhase string

const (
	// RestorePhaseNew is a restore the server has not looked at yet.
	RestorePhaseNew RestorePhase = "New"
	// RestorePhaseFailedValidation is a restore whose spec is invalid; see validationErrors.
	RestorePhaseFailedValidation RestorePhase = "FailedValidation"
	// RestorePhaseInProgress is a restore being run.
	RestorePhaseInProgress RestorePhase = "InProgress"
	// RestorePhaseCompleted is a restore that ran with no errors (it may have warnings).
	RestorePhaseCompleted RestorePhase = "Completed"
	// RestorePhasePartiallyFailed is a restore in which some items failed.
	RestorePhasePartiallyFailed RestorePhase = "PartiallyFailed"
	// RestorePhaseFailed is a restore that could not run; see failureReason.
	RestorePhaseFailed RestorePhase = "Failed"
	// RestorePhaseDryRunCompleted is a dry-run restore (spec.dryRun) that ran
	// to its end: nothing was created; status.dryRun counts what a restore
	// would do and status.errors what would fail.
	RestorePhaseDryRunCompleted RestorePhase = "DryRunCompleted"
)

// IsFinal says whether a restore in this phase will not change any more.
func (p RestorePhase) IsFinal() bool {
	switch p {
	case RestorePhaseFailedValidation, RestorePhaseCompleted, RestorePhasePartiallyFailed, RestorePhaseFailed, RestorePhaseDryRunCompleted:
		return true
	}
	return false
}

// RestoreProgress counts the items of a restore while it runs.
type RestoreProgress struct {
	// TotalItems is the number of items the restore will try to create.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TotalItems int `json:"totalItems,omitempty"`
	// ItemsRestored is the number of items handled so far.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ItemsRestored int `json:"itemsRestored,omitempty"`
}

// RestoreDryRunCounts counts the items of a dry-run restore by what a
// restore would do with them; the results file lists each, by namespace.
type RestoreDryRunCounts struct {
	// WouldCreate counts the items the API server accepted in a dry-run
	// create, and those of namespaces the restore would create (see
	// Unvalidated).
	// +optional
	WouldCreate int `json:"wouldCreate,omitempty"`
	// Unvalidated counts the items of WouldCreate whose namespace (or CRD)
	// the restore would create first: their admission could not be asked,
	// only their schema was checked (in the namespace "default").
	// +optional
	Unvalidated int `json:"unvalidated,omitempty"`
	// WouldUpdate counts the existing objects a restore would bring to
	// their backed-up state (or merge with it).
	// +optional
	WouldUpdate int `json:"wouldUpdate,omitempty"`
	// Unchanged counts the existing objects equal to the backup.
	// +optional
	Unchanged int `json:"unchanged,omitempty"`
	// Existing counts the existing objects a restore would leave untouched
	// although they differ from the backup (policy none).
	// +optional
	Existing int `json:"existing,omitempty"`
	// Skipped counts the items a restore leaves out on purpose.
	// +optional
	Skipped int `json:"skipped,omitempty"`
	// WouldFail counts the items a restore would fail to create or update.
	// +optional
	WouldFail int `json:"wouldFail,omitempty"`
}

// RestoreStatus is what the server observed of a restore.
type RestoreStatus struct {
	// Phase is where the restore is in its life.
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`

	// ValidationErrors lists what is wrong with the spec when the phase is FailedValidation.
	// +optional
	ValidationErrors []string `json:"validationErrors,omitempty"`

	// FailureReason says why the restore failed when the phase is Failed.
	// +optional
	FailureReason string `json:"failureReason,omitempty"`

	// Warnings counts the warnings, such as objects that already existed and were left untouched.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Warnings int `json:"warnings,omitempty"`

	// Errors counts the items that could not be restored.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Errors int `json:"errors,omitempty"`

	// Updated counts the existing objects brought to (or merged with) their
	// backed-up state; the results list each.
	// +optional
	Updated int `json:"updated,omitempty"`

	// Unchanged counts the existing objects already equal to their backed-up state.
	// +optional
	Unchanged int `json:"unchanged,omitempty"`

	// DryRun counts what a dry-run restore found a restore would do.
	// +optional
	DryRun *RestoreDryRunCounts `json:"dryRun,omitempty"`

	// Progress counts the items while the restore runs.
	// +optional
	Progress *RestoreProgress `json:"progress,omitempty"`

	// StartTimestamp is when the server started the restore.
	// +optional
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`

	// CompletionTimestamp is when the restore reached a final phase.
	// +optional
	CompletionTimestamp *metav1.Time `json:"completionTimestamp,omitempty"`
}

// Restore is a request to recreate the objects (and volumes) of a backup, and its record.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=ark,shortName=rst
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupName`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Warnings",type=integer,JSONPath=`.status.warnings`
// +kubebuilder:printcolumn:name="Errors",type=integer,JSONPath=`.status.errors`
// +kubebuilder:printcolumn:name="Created",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="DryRun",type=boolean,JSONPath=`.spec.dryRun`,priority=1
type Restore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to restore.
	// +optional
	Spec RestoreSpec `json:"spec,omitempty"`

	// Status is what the server observed.
	// +optional
	Status RestoreStatus `json:"status,omitempty"`
}

// RestoreList is a list of Restores.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type RestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Restore `json:"items"`
}
