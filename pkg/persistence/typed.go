package persistence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

// GetBackup returns the Backup object stored with backup name (GetBackupMetadata, decoded).
func (s *BackupStore) GetBackup(ctx context.Context, name string) (*v1.Backup, error) {
	data, err := s.GetBackupMetadata(ctx, name)
	if err != nil {
		return nil, err
	}
	backup := &v1.Backup{}
	if err := json.Unmarshal(data, backup); err != nil {
		return nil, fmt.Errorf("decoding metadata of backup %q: %w", name, err)
	}
	if s.velero {
		fromVelero(backup)
	}
	return backup, nil
}

// PutBackupObject is PutBackup with the metadata given as the Backup object, stored as
// JSON with its kind and apiVersion set.
func (s *BackupStore) PutBackupObject(ctx context.Context, backup *v1.Backup, contents, log io.Reader) error {
	b := backup.DeepCopy()
	b.APIVersion = v1.SchemeGroupVersion.String()
	b.Kind = "Backup"
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encoding backup %q: %w", backup.Name, err)
	}
	return s.PutBackup(ctx, backup.Name, bytes.NewReader(data), contents, log)
}

// TargetFromAPI converts a DownloadRequest's target; backupName is the backup of a restore
// target (the restore's spec.backupName), ignored for backup targets.
func TargetFromAPI(t v1.DownloadTarget, backupName string) DownloadTarget {
	return DownloadTarget{Kind: DownloadKind(t.Kind), Name: t.Name, BackupName: backupName}
}

// VeleroSourceAnnotation marks a Backup read from a Velero bucket.
const VeleroSourceAnnotation = "ark.heptio.com/source"

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
		Annotations: map[string]string{VeleroSourceAnnotation: "velero"},
	}
	b.Status.VolumeBackups = nil
	b.Status.ValidationErrors = nil
}
