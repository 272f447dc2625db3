// Package v1 holds the ark API: the Backup, Restore, Schedule, Config and
// DownloadRequest kinds of the group ark.heptio.com.
//
// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +groupName=ark.heptio.com
// +kubebuilder:object:generate=false
package v1
