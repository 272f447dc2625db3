package format

// GroupName is the prefix of every label, annotation, tag and finalizer ark
// writes (and its API group).
const GroupName = "ark.heptio.com"

// Labels on the objects ark creates. Their values are names made valid label
// values by label.ValidValue (over 63 characters: a prefix and a hash).
const (
	// RestoreNameLabel is put on every object a restore creates, naming the restore.
	RestoreNameLabel = GroupName + "/restore-name"
	// ScheduleNameLabel is put on every backup a schedule creates, naming the schedule.
	ScheduleNameLabel = GroupName + "/schedule-name"
	// DeleteBackupRequestBackupLabel is the label on a DeleteBackupRequest naming its
	// backup (for `kubectl get deletebackuprequests -l ark.heptio.com/backup-name=NAME`).
	DeleteBackupRequestBackupLabel = GroupName + "/backup-name"
)

// Tags (labels) in the clouds, on volume snapshots and the disks made from them.
const (
	// BackupTag is the tag on each snapshot naming its backup.
	BackupTag = GroupName + "/backup"
	// RestoredFromTag is the tag on a disk (or CSI VolumeSnapshotContent)
	// restored from a snapshot, naming the snapshot.
	RestoredFromTag = GroupName + "/restored-from"
)

// Annotations on Backups and DeleteBackupRequests.
const (
	// SyncedFromBucketAnnotation marks a Backup object the sync controller created
	// from the bucket's metadata: it is a record of a backup taken elsewhere,
	// never new work for the backup controller.
	SyncedFromBucketAnnotation = GroupName + "/synced-from-bucket"
	// BucketUIDAnnotation, on a Backup object imported from the bucket, is the UID
	// recorded in the bucket's metadata: the deletion controller deletes the
	// bucket's files of an imported backup only while they still carry that UID.
	BucketUIDAnnotation = GroupName + "/bucket-uid"
	// VeleroSourceAnnotation marks a Backup read from a Velero bucket.
	VeleroSourceAnnotation = GroupName + "/source"
)

// Annotations with which a DeleteBackupRequest's first pass pins what the request
// deletes, so that a retry, or a pass on a stale cache, never deletes another backup of
// the same name made since (a Backup object imported again by the sync, another
// cluster's backup in the bucket).
const (
	// TargetObjectAnnotation is the UID of the Backup object to delete, or "none".
	TargetObjectAnnotation = GroupName + "/target-object-uid"
	// TargetBucketAnnotation says what the request does in the bucket: "uid:<UID>"
	// deletes the bucket's backup whose metadata has that UID; "other:<UID>" leaves the
	// bucket's backup alone (another Backup's) and deletes the object only; "none": the
	// bucket held nothing of that name.
	TargetBucketAnnotation = GroupName + "/target-bucket"
)

// LegacyGCFinalizer is the finalizer earlier versions of ark put on every
// Backup, which made deleting the object (or its namespace) delete the
// backup's files and snapshots. The gc controller removes it, deleting
// nothing: only a DeleteBackupRequest or the backup's expiry deletes data.
const LegacyGCFinalizer = GroupName + "/gc"
