package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScheduleSpec says when to back up, and what.
type ScheduleSpec struct {
	// Schedule is a cron expression (five fields, UTC), such as "0 7 * * *".
	// +kubebuilder:validation:MinLength=1
	Schedule string `json:"schedule"`

	// Template is the spec of every backup the schedule creates.
	// +optional
	Template BackupSpec `json:"template,omitempty"`
}

// SchedulePhase is where a schedule is in its life.
// +kubebuilder:validation:Enum=New;Enabled;FailedValidation
type SchedulePhase string

const (
	// SchedulePhaseNew is a schedule the server has not looked at yet.
	SchedulePhaseNew SchedulePhase = "New"
	// SchedulePhaseEnabled is a valid schedule that creates backups.
	SchedulePhaseEnabled SchedulePhase = "Enabled"
	// SchedulePhaseFailedValidation is a schedule whose spec is invalid; see validationErrors.
	SchedulePhaseFailedValidation SchedulePhase = "FailedValidation"
)

// ScheduleStatus is what the server observed of a schedule.
type ScheduleStatus struct {
	// Phase is where the schedule is in its life.
	// +optional
	Phase SchedulePhase `json:"phase,omitempty"`

	// LastBackup is the cron tick of the newest backup the schedule created.
	// +optional
	LastBackup *metav1.Time `json:"lastBackup,omitempty"`

	// ValidationErrors lists what is wrong with the spec when the phase is FailedValidation.
	// +optional
	ValidationErrors []string `json:"validationErrors,omitempty"`
}

// Schedule creates backups on a cron schedule.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=ark,shortName=sched
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Last Backup",type=date,JSONPath=`.status.lastBackup`
// +kubebuilder:printcolumn:name="Created",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 238",message="a schedule name is at most 238 characters, so that <schedule>-<YYYYMMDDhhmmss> is a valid backup name"
type Schedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says when to back up, and what.
	// +optional
	Spec ScheduleSpec `json:"spec,omitempty"`

	// Status is what the server observed.
	// +optional
	Status ScheduleStatus `json:"status,omitempty"`
}

// ScheduleList is a list of Schedules.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type ScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Schedule `json:"items"`
}
