package format

// The requester of a Backup, Restore, Schedule, DownloadRequest or
// DeleteBackupRequest: who asked for it, as the API server authenticated
// them. The ark CLI fills both from a SelfSubjectReview when it creates the
// object; the ValidatingAdmissionPolicy "ark-requester" shipped with the CRDs
// (config/admission/requester.yaml, which spells the same names) refuses a
// create whose values differ from the creator's request.userInfo, and any
// update that adds, changes or removes them, except from the ark server's own
// ServiceAccount (a schedule's backups carry the schedule's requester).
// Package authz reads and writes them.
const (
	// RequesterAnnotation is the requester's user name.
	RequesterAnnotation = GroupName + "/requester"
	// RequesterGroupsAnnotation is the requester's groups, comma-separated,
	// in the order the API server gave them.
	RequesterGroupsAnnotation = GroupName + "/requester-groups"
)
