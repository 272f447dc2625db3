package format

// A backup's files in its directory in the bucket, <prefix>/<backup>/ (ark's
// layout; the keys themselves are built by pkg/persistence):
//
//	<backup>.tar.gz               the items (the tarball)
//	<backup>-logs.gz              the backup's log
//	<backup>-resource-list.json.gz the names of the backup's objects (ResourceList, gzipped JSON)
//	restore-<restore>-logs.gz     a restore's log
//	restore-<restore>-results.gz  a restore's results (RestoreResults, gzipped JSON)
//	ark-backup.json               the Backup object
//	ark-backup-deleting.json      the Backup object of a backup being deleted
//
// With encryption configured, each file but the two metadata files is an age file
// (age-encryption.org/v1) of the same name: compressed, then encrypted. Beside the backups,
// <prefix>/_ark-downloads/<request-uid>.age holds a download re-encrypted for a client
// (DownloadRequest spec.recipient) until the request expires.

const (
	// MetadataFile is the name of the file holding the Backup object.
	MetadataFile = "ark-backup.json"
	// DeletionMarkerFile replaces MetadataFile while a backup is being deleted.
	DeletionMarkerFile = "ark-backup-deleting.json"
	// RestoreFilePrefix starts the names of a restore's files in its backup's directory.
	RestoreFilePrefix = "restore-"
)

// DownloadsDir holds temporary download objects; its name is no valid backup name.
const DownloadsDir = "_ark-downloads/"

// EncryptedDownloadSuffix ends the name of a temporary download object.
const EncryptedDownloadSuffix = ".age"

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

// ResourceListFile is the name of backup's resource list (Velero's name too).
func ResourceListFile(backup string) string { return backup + "-resource-list.json.gz" }

// ResourceList is the content of a backup's resource list, as Velero writes it: for each
// kind backed up, keyed "<apiVersion>/<Kind>" ("apps/v1/Deployment", "v1/Namespace"), the
// objects as "<namespace>/<name>", or "<name>" when cluster-scoped. `ark backup describe
// --details` shows it without downloading the tarball.
type ResourceList map[string][]string

// ResourceListKey is the key of an object's kind in a ResourceList.
func ResourceListKey(apiVersion, kind string) string { return apiVersion + "/" + kind }

// ResourceListEntry is an object's entry in a ResourceList.
func ResourceListEntry(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
