// Package persistence is the one place that reads and writes a backup's files in object
// storage (design.md, compatible with Heptio Ark); their names are pkg/format's:
//
//	<prefix>/<backup>/<backup>.tar.gz               the items
//	<prefix>/<backup>/<backup>-logs.gz              the backup's log
//	<prefix>/<backup>/restore-<restore>-logs.gz     a restore's log
//	<prefix>/<backup>/restore-<restore>-results.gz  a restore's warnings and errors
//	<prefix>/<backup>/ark-backup.json               the Backup object
//	<prefix>/<backup>/ark-backup-deleting.json      the Backup object of a backup being deleted
//
// ark-backup.json is created first, by a conditional create that claims the backup's name in
// a bucket several clusters may share (CreateBackupMetadata), with the phase InProgress; it
// is rewritten with the final phase and the tarball's checksum after every other file
// (PutBackupMetadata). A backup is whole once its ark-backup.json has a final phase.
// With a Keyring (SetKeyring), every file but the metadata is encrypted (encryption.go).
// Deleting a backup first replaces ark-backup.json by ark-backup-deleting.json (MarkDeleting),
// so that a deletion interrupted at any point never leaves a backup that looks whole; the
// marker, which the sync ignores, keeps the metadata (snapshot IDs) until the last file is gone.
package persistence

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	v1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/encryption"
	"github.com/heptio/ark/pkg/format"
)

// Errors of the typed contract; check them with errors.Is.
var (
	// ErrBackupNotFound: the bucket holds no ark-backup.json for the name (never
	// written, deleted, or being deleted). Errors matching it also match
	// cloudprovider.ErrNotFound.
	ErrBackupNotFound = errors.New("backup not found in the bucket")
	// ErrBackupExists: CreateBackupMetadata found the name taken (another cluster's or
	// another Backup object's backup, or one being deleted); nothing was written.
	ErrBackupExists = errors.New("a backup of this name already exists in the bucket")
)

// ErrReadOnly is matched (errors.Is) by the errors of writes to a Velero bucket.
var ErrReadOnly = errors.New("the bucket is a Velero bucket (layout: velero), read-only to ark")

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
	// DownloadBackupResourceList is the backup's resource list (format.ResourceList).
	DownloadBackupResourceList DownloadKind = "BackupResourceList"
	DownloadRestoreLog         DownloadKind = "RestoreLog"
	DownloadRestoreResults     DownloadKind = "RestoreResults"
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
	// keys encrypt what is written (if it has recipients) and decrypt what is read
	// (SetKeyring, encryption.go); nil: nothing is encrypted.
	keys *encryption.Keyring
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
	if format.RestoreLogFile(restore) == format.BackupLogFile(backup) {
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
		return s.prefix + format.VeleroBackupsDir
	}
	return s.prefix
}

func (s *BackupStore) metadataFile() string {
	if s.velero {
		return format.VeleroMetadataFile
	}
	return format.MetadataFile
}

func (s *BackupStore) metadataKey(b string) string  { return s.dir(b) + s.metadataFile() }
func (s *BackupStore) contentsKey(b string) string  { return s.dir(b) + format.ContentsFile(b) }
func (s *BackupStore) backupLogKey(b string) string { return s.dir(b) + format.BackupLogFile(b) }
func (s *BackupStore) resourceListKey(b string) string {
	return s.dir(b) + format.ResourceListFile(b)
}
func (s *BackupStore) restoreLogKey(b, r string) string {
	return s.dir(b) + format.RestoreLogFile(r)
}
func (s *BackupStore) restoreResultsKey(b, r string) string {
	return s.dir(b) + format.RestoreResultsFile(r)
}

// Key returns the object key of a download target (for logs and tests).
func (s *BackupStore) Key(t DownloadTarget) (string, error) {
	switch t.Kind {
	case DownloadBackupContents, DownloadBackupLog, DownloadBackupResourceList:
		if err := ValidateName("backup", t.Name); err != nil {
			return "", err
		}
		switch t.Kind {
		case DownloadBackupContents:
			return s.contentsKey(t.Name), nil
		case DownloadBackupResourceList:
			return s.resourceListKey(t.Name), nil
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
	return "", fmt.Errorf("unknown download kind %q (valid: %s, %s, %s, %s, %s)", t.Kind,
		DownloadBackupLog, DownloadBackupContents, DownloadBackupResourceList, DownloadRestoreLog, DownloadRestoreResults)
}

// PutBackupContents streams the tarball of backup name into the bucket and returns its
// size and SHA-256, to be recorded in the metadata.
func (s *BackupStore) PutBackupContents(ctx context.Context, name string, contents io.Reader) (v1.ContentsChecksum, error) {
	if err := s.checkWrite(name); err != nil {
		return v1.ContentsChecksum{}, err
	}
	sum, err := s.putObject(ctx, s.contentsKey(name), contents)
	if err != nil {
		return v1.ContentsChecksum{}, fmt.Errorf("uploading contents of backup %q: %w", name, err)
	}
	return sum, nil
}

// PutBackupLog uploads the (gzipped) log of backup name.
func (s *BackupStore) PutBackupLog(ctx context.Context, name string, log io.Reader) error {
	if err := s.checkWrite(name); err != nil {
		return err
	}
	if _, err := s.putObject(ctx, s.backupLogKey(name), log); err != nil {
		return fmt.Errorf("uploading log of backup %q: %w", name, err)
	}
	return nil
}

// PutBackupResourceList uploads the resource list of backup name as gzipped JSON
// (format.ResourceListFile), each kind's names sorted.
func (s *BackupStore) PutBackupResourceList(ctx context.Context, name string, list format.ResourceList) error {
	if err := s.checkWrite(name); err != nil {
		return err
	}
	for _, names := range list {
		sort.Strings(names)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if err := json.NewEncoder(gz).Encode(list); err != nil {
		return fmt.Errorf("encoding the resource list of backup %q: %w", name, err)
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if _, err := s.putObject(ctx, s.resourceListKey(name), &buf); err != nil {
		return fmt.Errorf("uploading the resource list of backup %q: %w", name, err)
	}
	return nil
}

// CreateBackupMetadata claims backup.Name in the bucket: it writes ark-backup.json only if
// none exists, with the store's conditional create, so that of several clusters or Backup
// objects creating the same name exactly one wins. The others get an error matching
// ErrBackupExists and write nothing. A name whose deletion is in progress is taken too.
func (s *BackupStore) CreateBackupMetadata(ctx context.Context, backup *v1.Backup) error {
	if err := s.checkWrite(backup.Name); err != nil {
		return err
	}
	if _, err := s.GetDeletionMarker(ctx, backup.Name); err == nil {
		return fmt.Errorf("%w: backup %q is being deleted", ErrBackupExists, backup.Name)
	} else if !errors.Is(err, ErrBackupNotFound) {
		return err
	}
	data, err := encodeBackup(backup)
	if err != nil {
		return err
	}
	err = s.store.PutObjectIfAbsent(ctx, s.bucket, s.metadataKey(backup.Name), bytes.NewReader(data))
	if errors.Is(err, cloudprovider.ErrAlreadyExists) {
		return fmt.Errorf("%w: %q", ErrBackupExists, backup.Name)
	}
	if err != nil {
		return fmt.Errorf("creating metadata of backup %q: %w", backup.Name, err)
	}
	return nil
}

// PutBackupMetadata overwrites ark-backup.json with backup: the final write of a backup
// whose name its writer claimed with CreateBackupMetadata.
func (s *BackupStore) PutBackupMetadata(ctx context.Context, backup *v1.Backup) error {
	if err := s.checkWrite(backup.Name); err != nil {
		return err
	}
	data, err := encodeBackup(backup)
	if err != nil {
		return err
	}
	if err := s.store.PutObject(ctx, s.bucket, s.metadataKey(backup.Name), bytes.NewReader(data)); err != nil {
		return fmt.Errorf("uploading metadata of backup %q: %w", backup.Name, err)
	}
	return nil
}

func (s *BackupStore) checkWrite(name string) error {
	if s.velero {
		return ErrReadOnly
	}
	return ValidateName("backup", name)
}

// BackupExists says whether backup name has an ark-backup.json in the bucket.
func (s *BackupStore) BackupExists(ctx context.Context, name string) (bool, error) {
	_, err := s.GetBackupMetadata(ctx, name)
	if errors.Is(err, ErrBackupNotFound) {
		return false, nil
	}
	return err == nil, err
}

// maxResourceListSize bounds the resource list read from the bucket (gunzipped).
const maxResourceListSize = 256 << 20

// GetBackupResourceList returns the resource list of backup name
// (format.ResourceListFile), and false when the bucket holds none (a backup
// that failed, or one written by an older ark).
func (s *BackupStore) GetBackupResourceList(ctx context.Context, name string) (format.ResourceList, bool, error) {
	if err := ValidateName("backup", name); err != nil {
		return nil, false, err
	}
	r, err := s.store.GetObject(ctx, s.bucket, s.resourceListKey(name))
	if errors.Is(err, cloudprovider.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the resource list of backup %q: %w", name, err)
	}
	defer r.Close()
	// Encrypted with the backup (encryption.go): decrypted with any identity the store holds.
	isAge, plain, err := encryption.Sniff(r)
	if err != nil {
		return nil, false, fmt.Errorf("reading the resource list of backup %q: %w", name, err)
	}
	if isAge {
		if plain, err = s.keys.Decrypt(plain, fmt.Sprintf("the resource list of backup %q", name), nil); err != nil {
			return nil, false, err
		}
	}
	gz, err := gzip.NewReader(plain)
	if err != nil {
		return nil, false, fmt.Errorf("reading the resource list of backup %q: %w", name, err)
	}
	var list format.ResourceList
	if err := json.NewDecoder(io.LimitReader(gz, maxResourceListSize)).Decode(&list); err != nil {
		return nil, false, fmt.Errorf("decoding the resource list of backup %q: %w", name, err)
	}
	return list, true, nil
}

// maxMetadataSize bounds the Backup object read from the bucket.
const maxMetadataSize = 16 << 20

// GetBackupMetadata returns the raw JSON of the Backup object stored with backup name.
// A backup without ark-backup.json gives an error matching ErrBackupNotFound.
func (s *BackupStore) GetBackupMetadata(ctx context.Context, name string) ([]byte, error) {
	if err := ValidateName("backup", name); err != nil {
		return nil, err
	}
	return s.readMetadata(ctx, name, s.metadataKey(name))
}

func (s *BackupStore) readMetadata(ctx context.Context, name, key string) ([]byte, error) {
	r, err := s.store.GetObject(ctx, s.bucket, key)
	if errors.Is(err, cloudprovider.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q (%w)", ErrBackupNotFound, name, err)
	}
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

// MarkDeleting is the first step of deleting a backup: it writes backup (its metadata,
// as last read) as the deletion marker, then removes ark-backup.json. From then on the
// backup is not whole: the sync ignores it, restores refuse it, and the marker keeps its
// snapshot IDs until DeleteBackupFiles removes the last file. Idempotent.
func (s *BackupStore) MarkDeleting(ctx context.Context, backup *v1.Backup) error {
	if err := s.checkWrite(backup.Name); err != nil {
		return err
	}
	data, err := encodeBackup(backup)
	if err != nil {
		return err
	}
	if err := s.store.PutObject(ctx, s.bucket, s.dir(backup.Name)+format.DeletionMarkerFile, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("writing the deletion marker of backup %q: %w", backup.Name, err)
	}
	if err := s.store.DeleteObject(ctx, s.bucket, s.metadataKey(backup.Name)); err != nil {
		return fmt.Errorf("deleting metadata of backup %q: %w", backup.Name, err)
	}
	return nil
}

// GetDeletionMarker returns the Backup object kept in the deletion marker of backup name;
// none gives an error matching ErrBackupNotFound.
func (s *BackupStore) GetDeletionMarker(ctx context.Context, name string) (*v1.Backup, error) {
	if err := ValidateName("backup", name); err != nil {
		return nil, err
	}
	if s.velero {
		return nil, fmt.Errorf("%w: %q has no deletion marker", ErrBackupNotFound, name)
	}
	data, err := s.readMetadata(ctx, name, s.dir(name)+format.DeletionMarkerFile)
	if err != nil {
		return nil, err
	}
	return s.decodeBackup(name, data)
}

// DeleteBackupFiles deletes the files of backup name, after MarkDeleting: its restores'
// files, then its other files, then the deletion marker. Only keys under "<name>/" are
// touched, never those of a backup whose name merely starts with name. It refuses while an
// ark-backup.json exists (a backup not marked, or the name claimed again since). Deleting
// files that are gone is not an error.
func (s *BackupStore) DeleteBackupFiles(ctx context.Context, name string) error {
	if err := s.checkWrite(name); err != nil {
		return err
	}
	if exists, err := s.BackupExists(ctx, name); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("%w: %q has an %s (not marked for deletion, or claimed again): its files are left alone", ErrBackupExists, name, format.MetadataFile)
	}
	keys, err := s.store.ListObjects(ctx, s.bucket, s.dir(name))
	if err != nil {
		return fmt.Errorf("listing files of backup %q: %w", name, err)
	}
	var restores, rest []string
	marker := s.dir(name) + format.DeletionMarkerFile
	for _, k := range keys {
		switch base := strings.TrimPrefix(k, s.dir(name)); {
		case strings.Contains(base, "/") || k == marker:
		case strings.HasPrefix(base, format.RestoreFilePrefix):
			restores = append(restores, k)
		default:
			rest = append(rest, k)
		}
	}
	for _, group := range [][]string{restores, rest, {marker}} {
		var errs []error
		for _, k := range group {
			if err := s.store.DeleteObject(ctx, s.bucket, k); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("deleting files of backup %q: %w", name, errors.Join(errs...))
		}
	}
	return nil
}

// DeleteBackup deletes backup name from the bucket in the safe order (MarkDeleting, then
// DeleteBackupFiles), without looking at snapshots: for tests and tools. Deleting a backup
// that does not exist is not an error.
func (s *BackupStore) DeleteBackup(ctx context.Context, name string) error {
	if err := s.checkWrite(name); err != nil {
		return err
	}
	b, err := s.GetBackup(ctx, name)
	switch {
	case err == nil:
		if err := s.MarkDeleting(ctx, b); err != nil {
			return err
		}
	case errors.Is(err, ErrBackupNotFound):
	default:
		return err
	}
	return s.DeleteBackupFiles(ctx, name)
}

// PutRestoreLog uploads the log of restore from backup.
func (s *BackupStore) PutRestoreLog(ctx context.Context, backup, restore string, log io.Reader) error {
	if s.velero {
		return ErrReadOnly
	}
	if err := validateRestore(backup, restore); err != nil {
		return err
	}
	if _, err := s.putRestoreFile(ctx, backup, s.restoreLogKey(backup, restore), log); err != nil {
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
	if _, err := s.putRestoreFile(ctx, backup, s.restoreResultsKey(backup, restore), results); err != nil {
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
