package format

// A backup's files in its directory in the bucket, <prefix>/<backup>/ (ark's
// layout; the keys themselves are built by pkg/persistence):
//
//	<backup>.tar.gz               the items (the tarball)
//	<backup>-logs.gz              the backup's log
//	restore-<restore>-logs.gz     a restore's log
//	restore-<restore>-results.gz  a restore's results (RestoreResults, gzipped JSON)
//	ark-backup.json               the Backup object
//	ark-backup-deleting.json      the Backup object of a backup being deleted

const (
	// MetadataFile is the name of the file holding the Backup object.
	MetadataFile = "ark-backup.json"
	// DeletionMarkerFile replaces MetadataFile while a backup is being deleted.
	DeletionMarkerFile = "ark-backup-deleting.json"
	// RestoreFilePrefix starts the names of a restore's files in its backup's directory.
	RestoreFilePrefix = "restore-"
)

// Velero 1.x's layout: backups/<name>/velero-backup.json, backups/<name>/<name>.tar.gz, ...
const (
	VeleroBackupsDir   = "backups/"
	VeleroMetadataFile = "velero-backup.json"
)

// ContentsFile is the name of backup's tarball.
func ContentsFile(backup string) string { return backup + ".tar.gz" }

// BackupLogFile is the name of backup's log.
func BackupLogFile(backup string) string { return backup + "-logs.gz" }

// RestoreLogFile is the name of restore's log, in its backup's directory.
func RestoreLogFile(restore string) string { return RestoreFilePrefix + restore + "-logs.gz" }

// RestoreResultsFile is the name of restore's results, in its backup's directory.
func RestoreResultsFile(restore string) string { return RestoreFilePrefix + restore + "-results.gz" }
