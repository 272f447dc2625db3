// Package persistence is the one place that knows where a backup's files live in object
// storage (design.md, compatible with Heptio Ark):
//
//	<prefix>/<backup>/<backup>.tar.gz               the items
//	<prefix>/<backup>/<backup>-logs.gz              the backup's log
//	<prefix>/<backup>/restore-<restore>-logs.gz     a restore's log
//	<prefix>/<backup>/restore-<restore>-results.gz  a restore's warnings and errors
//	<prefix>/<backup>/ark-backup.json               the Backup object, written last
//
// A backup is whole once ark-backup.json exists: it is written after every other file and
// deleted before them.
package persistence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/heptio/ark/pkg/cloudprovider"
)

// MetadataFile is the name of the file holding the Backup object.
const MetadataFile = "ark-backup.json"

// ErrReadOnly is matched (errors.Is) by the errors of writes to a Velero bucket.
var ErrReadOnly = errors.New("the bucket is a Velero bucket (layout: velero), read-only to ark")

// Velero 1.x's layout: backups/<name>/velero-backup.json, backups/<name>/<name>.tar.gz, ...
const (
	VeleroBackupsDir   = "backups/"
	VeleroMetadataFile = "velero-backup.json"
)

// LayoutConfigKey is the Config.backupStorageProvider.config key naming the bucket's layout:
// "ark" (the default) or "velero".
const LayoutConfigKey = "layout"

// ErrInvalidName is matched (errors.Is) by the errors for a bad backup or restore name.
var ErrInvalidName = errors.New("invalid name")

// DownloadKind is what a download URL is for (DownloadRequest target kinds).
type DownloadKind string

// Download kinds.
const (
	DownloadBackupLog      DownloadKind = "BackupLog"
	DownloadBackupContents DownloadKind = "BackupContents"
	DownloadRestoreLog     DownloadKind = "RestoreLog"
	DownloadRestoreResults DownloadKind = "RestoreResults"
)

// DownloadTarget names a file to download. For the restore kinds, Name is the restore and
// BackupName the backup it restored from (restore files live in the backup's directory).
type DownloadTarget struct {
	Kind       DownloadKind
	Name       string
	BackupName string
}

// BackupStore reads and writes backups in one bucket, under an optional prefix.
type BackupStore struct {
	store  cloudprovider.ObjectStore
	bucket string
	prefix string // "" or ending with "/"
	// velero is set for a bucket written by Velero 1.x: its layout, and read-only.
	velero bool
}

// NewBackupStore returns a BackupStore on bucket of store. prefix (may be empty) is a
// slash-separated path inside the bucket, e.g. Config.backupStorageProvider.config["prefix"].
func NewBackupStore(store cloudprovider.ObjectStore, bucket, prefix string) (*BackupStore, error) {
	if store == nil {
		return nil, errors.New("persistence: nil object store")
	}
	if bucket == "" {
		return nil, errors.New("persistence: bucket name is empty")
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		for _, e := range strings.Split(prefix, "/") {
			if e == "" || e == "." || e == ".." {
				return nil, fmt.Errorf("persistence: invalid prefix %q: empty, \".\" or \"..\" path element", prefix)
			}
		}
		prefix += "/"
	}
	return &BackupStore{store: store, bucket: bucket, prefix: prefix}, nil
}

// NewBackupStoreForLayout returns a BackupStore of layout "ark" (or "") or "velero". A
// Velero bucket is read-only: every write returns an error matching ErrReadOnly.
func NewBackupStoreForLayout(store cloudprovider.ObjectStore, bucket, prefix, layout string) (*BackupStore, error) {
	s, err := NewBackupStore(store, bucket, prefix)
	if err != nil {
		return nil, err
	}
	switch layout {
	case "", "ark":
	case "velero":
		s.velero = true
	default:
		return nil, fmt.Errorf("%w: config key %q: unknown layout %q (valid: ark, velero)", cloudprovider.ErrInvalidConfig, LayoutConfigKey, layout)
	}
	return s, nil
}

// ReadOnly says whether the bucket is read-only to ark (a Velero bucket).
func (s *BackupStore) ReadOnly() bool { return s.velero }

// ValidateName returns an error unless name is a valid Kubernetes object name (a DNS-1123
// subdomain: lowercase alphanumerics, '-' and '.', at most 253 characters). Such a name has
// no '/' and no ".." element, so it cannot address files outside its backup's directory.
func ValidateName(kind, name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%w: %s name %q: %s", ErrInvalidName, kind, name, strings.Join(errs, "; "))
	}
	return nil
}

func validateRestore(backup, restore string) error {
	if err := ValidateName("backup", backup); err != nil {
		return err
	}
	if err := ValidateName("restore", restore); err != nil {
		return err
	}
	// restore-<r>-logs.gz of backup "restore-<r>" is that backup's own log file.
	if backup == "restore-"+restore {
		return fmt.Errorf("%w: restore %q of backup %q: its log would overwrite the backup's log",
			ErrInvalidName, restore, backup)
	}
	return nil
}

func (s *BackupStore) dir(backup string) string {
	if s.velero {
		return s.backupsRoot() + backup + "/"
	}
	return s.prefix + backup + "/"
}

// backupsRoot is where the backups' directories are.
func (s *BackupStore) backupsRoot() string {
	if s.velero {
		return s.prefix + VeleroBackupsDir
	}
	return s.prefix
}

func (s *BackupStore) metadataFile() string {
	if s.velero {
		return VeleroMetadataFile
	}
	return MetadataFile
}

func (s *BackupStore) metadataKey(b string) string  { return s.dir(b) + s.metadataFile() }
func (s *BackupStore) contentsKey(b string) string  { return s.dir(b) + b + ".tar.gz" }
func (s *BackupStore) backupLogKey(b string) string { return s.dir(b) + b + "-logs.gz" }
func (s *BackupStore) restoreLogKey(b, r string) string {
	return s.dir(b) + "restore-" + r + "-logs.gz"
}
func (s *BackupStore) restoreResultsKey(b, r string) string {
	return s.dir(b) + "restore-" + r + "-results.gz"
}

// Key returns the object key of a download target (for logs and tests).
func (s *BackupStore) Key(t DownloadTarget) (string, error) {
	switch t.Kind {
	case DownloadBackupContents, DownloadBackupLog:
		if err := ValidateName("backup", t.Name); err != nil {
			return "", err
		}
		if t.Kind == DownloadBackupContents {
			return s.contentsKey(t.Name), nil
		}
		return s.backupLogKey(t.Name), nil
	case DownloadRestoreLog, DownloadRestoreResults:
		if s.velero {
			return "", fmt.Errorf("%w: restore logs and results are not stored in it (see the server's log)", ErrReadOnly)
		}
		if t.BackupName == "" {
			return "", fmt.Errorf("%w: %s target %q needs the name of its backup", ErrInvalidName, t.Kind, t.Name)
		}
		if err := validateRestore(t.BackupName, t.Name); err != nil {
			return "", err
		}
		if t.Kind == DownloadRestoreLog {
			return s.restoreLogKey(t.BackupName, t.Name), nil
		}
		return s.restoreResultsKey(t.BackupName, t.Name), nil
	}
	return "", fmt.Errorf("unknown download kind %q (valid: %s, %s, %s, %s)", t.Kind,
		DownloadBackupLog, DownloadBackupContents, DownloadRestoreLog, DownloadRestoreResults)
}

// PutBackup uploads a backup: the tarball, then the log (if log is not nil), then the
// metadata. If a step fails the metadata is never written, so the backup is not whole.
func (s *BackupStore) PutBackup(ctx context.Context, name string, metadata, contents, log io.Reader) error {
	if s.velero {
		return ErrReadOnly
	}
	if err := ValidateName("backup", name); err != nil {
		return err
	}
	if metadata == nil || contents == nil {
		return fmt.Errorf("backup %q: metadata and contents are required", name)
	}
	if err := s.store.PutObject(ctx, s.bucket, s.contentsKey(name), contents); err != nil {
		return fmt.Errorf("uploading contents of backup %q: %w", name, err)
	}
	if log != nil {
		if err := s.store.PutObject(ctx, s.bucket, s.backupLogKey(name), log); err != nil {
			return fmt.Errorf("uploading log of backup %q: %w", name, err)
		}
	}
	if err := s.store.PutObject(ctx, s.bucket, s.metadataKey(name), metadata); err != nil {
		return fmt.Errorf("uploading metadata of backup %q: %w", name, err)
	}
	return nil
}

// maxMetadataSize bounds the Backup object read from the bucket.
const maxMetadataSize = 16 << 20

// GetBackupMetadata returns the raw JSON of the Backup object stored with backup name.
// A backup that is not whole gives an error matching cloudprovider.ErrNotFound.
func (s *BackupStore) GetBackupMetadata(ctx context.Context, name string) ([]byte, error) {
	if err := ValidateName("backup", name); err != nil {
		return nil, err
	}
	r, err := s.store.GetObject(ctx, s.bucket, s.metadataKey(name))
	if err != nil {
		return nil, fmt.Errorf("reading metadata of backup %q: %w", name, err)
	}
	defer r.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading metadata of backup %q: %w", name, err)
	}
	if n > maxMetadataSize {
		return nil, fmt.Errorf("metadata of backup %q is larger than %d bytes", name, maxMetadataSize)
	}
	return buf.Bytes(), nil
}

// GetBackupContents opens the tarball of backup name; the caller closes it.
func (s *BackupStore) GetBackupContents(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ValidateName("backup", name); err != nil {
		return nil, err
	}
	r, err := s.store.GetObject(ctx, s.bucket, s.contentsKey(name))
	if err != nil {
		return nil, fmt.Errorf("reading contents of backup %q: %w", name, err)
	}
	return r, nil
}

// ListBackups returns the names of the whole backups (those with ark-backup.json), sorted.
// Directories whose name is not a valid backup name are ignored.
func (s *BackupStore) ListBackups(ctx context.Context) ([]string, error) {
	keys, err := s.store.ListObjects(ctx, s.bucket, s.backupsRoot())
	if err != nil {
		return nil, fmt.Errorf("listing backups: %w", err)
	}
	var names []string
	for _, k := range keys {
		rest, ok := strings.CutSuffix(strings.TrimPrefix(k, s.backupsRoot()), "/"+s.metadataFile())
		if !ok || strings.Contains(rest, "/") || ValidateName("backup", rest) != nil {
			continue
		}
		names = append(names, rest)
	}
	sort.Strings(names)
	return names, nil
}

// DeleteBackup deletes every file of backup name: the metadata first, so that a backup
// half deleted is never seen as whole, then the rest of its directory (restore files
// included). Deleting a backup that does not exist is not an error.
func (s *BackupStore) DeleteBackup(ctx context.Context, name string) error {
	if s.velero {
		return ErrReadOnly
	}
	if err := ValidateName("backup", name); err != nil {
		return err
	}
	if err := s.store.DeleteObject(ctx, s.bucket, s.metadataKey(name)); err != nil {
		return fmt.Errorf("deleting metadata of backup %q: %w", name, err)
	}
	keys, err := s.store.ListObjects(ctx, s.bucket, s.dir(name))
	if err != nil {
		return fmt.Errorf("listing files of backup %q: %w", name, err)
	}
	var errs []error
	for _, k := range keys {
		if err := s.store.DeleteObject(ctx, s.bucket, k); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("deleting files of backup %q: %w", name, errors.Join(errs...))
	}
	return nil
}

// PutRestoreLog uploads the log of restore from backup.
func (s *BackupStore) PutRestoreLog(ctx context.Context, backup, restore string, log io.Reader) error {
	if s.velero {
		return ErrReadOnly
	}
	if err := validateRestore(backup, restore); err != nil {
		return err
	}
	if err := s.store.PutObject(ctx, s.bucket, s.restoreLogKey(backup, restore), log); err != nil {
		return fmt.Errorf("uploading log of restore %q: %w", restore, err)
	}
	return nil
}

// PutRestoreResults uploads the results (warnings and errors) of restore from backup.
func (s *BackupStore) PutRestoreResults(ctx context.Context, backup, restore string, results io.Reader) error {
	if s.velero {
		return ErrReadOnly
	}
	if err := validateRestore(backup, restore); err != nil {
		return err
	}
	if err := s.store.PutObject(ctx, s.bucket, s.restoreResultsKey(backup, restore), results); err != nil {
		return fmt.Errorf("uploading results of restore %q: %w", restore, err)
	}
	return nil
}

// GetDownloadURL returns a signed URL, valid for ttl, to download the target's file.
func (s *BackupStore) GetDownloadURL(ctx context.Context, target DownloadTarget, ttl time.Duration) (string, error) {
	key, err := s.Key(target)
	if err != nil {
		return "", err
	}
	u, err := s.store.CreateSignedURL(ctx, s.bucket, key, ttl)
	if err != nil {
		return "", fmt.Errorf("creating download URL for %s %q: %w", target.Kind, target.Name, err)
	}
	return u, nil
}
