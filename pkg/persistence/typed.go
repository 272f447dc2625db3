package persistence

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// GetBackup returns the Backup object stored with backup name (GetBackupMetadata, decoded).
// A backup without ark-backup.json gives an error matching ErrBackupNotFound.
func (s *BackupStore) GetBackup(ctx context.Context, name string) (*v1.Backup, error) {
	data, err := s.GetBackupMetadata(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.decodeBackup(name, data)
}

func (s *BackupStore) decodeBackup(name string, data []byte) (*v1.Backup, error) {
	backup := &v1.Backup{}
	if err := json.Unmarshal(data, backup); err != nil {
		return nil, fmt.Errorf("decoding metadata of backup %q: %w", name, err)
	}
	if backup.Name != "" && backup.Name != name {
		return nil, fmt.Errorf("metadata of backup %q names another backup, %q", name, backup.Name)
	}
	if s.velero {
		fromVelero(backup)
	}
	return backup, nil
}

// PutBackupObject stores a whole backup at once, for tests and tools: the tarball, the
// log (if not nil), then backup as ark-backup.json with the tarball's checksum recorded
// in status.contents. It overwrites: the claim of CreateBackupMetadata is the caller's.
func (s *BackupStore) PutBackupObject(ctx context.Context, backup *v1.Backup, contents, log io.Reader) error {
	sum, err := s.PutBackupContents(ctx, backup.Name, contents)
	if err != nil {
		return err
	}
	if log != nil {
		if err := s.PutBackupLog(ctx, backup.Name, log); err != nil {
			return err
		}
	}
	b := backup.DeepCopy()
	b.Status.Contents = &sum
	return s.PutBackupMetadata(ctx, b)
}

// encodeBackup is the JSON of ark-backup.json: the Backup with its kind and apiVersion.
func encodeBackup(backup *v1.Backup) ([]byte, error) {
	b := backup.DeepCopy()
	b.APIVersion = v1.SchemeGroupVersion.String()
	b.Kind = "Backup"
	b.ManagedFields = nil
	data, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding backup %q: %w", backup.Name, err)
	}
	return data, nil
}

// TargetFromAPI converts a DownloadRequest's target; backupName is the backup of a restore
// target (the restore's spec.backupName), ignored for backup targets.
func TargetFromAPI(t v1.DownloadTarget, backupName string) DownloadTarget {
	return DownloadTarget{Kind: DownloadKind(t.Kind), Name: t.Name, BackupName: backupName}
}

// fromVelero turns a Velero 1.x Backup, decoded into ark's type, into an ark
// Backup. The fields ark shares with Velero (namespaces, resources, label
// selector, ttl, snapshotVolumes, includeClusterResources, phase, timestamps,
// progress) have the same names and JSON shapes; the rest are dropped. Object
// metadata that belongs to the Velero cluster (uid, resourceVersion, managed
// fields) is dropped too.
func fromVelero(b *v1.Backup) {
	b.APIVersion = v1.SchemeGroupVersion.String()
	b.Kind = "Backup"
	b.ObjectMeta = metav1.ObjectMeta{
		Name:        b.Name,
		Labels:      b.Labels,
		Annotations: map[string]string{format.VeleroSourceAnnotation: "velero"},
	}
	b.Status.VolumeBackups = nil
	b.Status.ValidationErrors = nil
}
