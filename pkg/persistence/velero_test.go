package persistence

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
	"github.com/heptio/ark/pkg/format"
)

// veleroBucket copies the Velero 1.18 fixtures into a filesystem bucket, at Velero's keys.
func veleroBucket(t *testing.T) *BackupStore {
	t.Helper()
	fixtures := "../../../shared/testdata/velero-1.18"
	if _, err := os.Stat(fixtures); err != nil {
		t.Skipf("Velero fixtures not found: %v", err)
	}
	root := t.TempDir()
	for _, name := range []string{"vnginx", "vwidgets"} {
		dir := filepath.Join(root, "velero", "backups", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(fixtures, name, "*"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	fs, err := filesystem.New(filesystem.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewBackupStoreForLayout(fs, "velero", "", "velero")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVeleroLayout(t *testing.T) {
	ctx := context.Background()
	s := veleroBucket(t)
	names, err := s.ListBackups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names, []string{"vnginx", "vwidgets"}) {
		t.Fatalf("ListBackups = %v", names)
	}
	b, err := s.GetBackup(ctx, "vnginx")
	if err != nil {
		t.Fatal(err)
	}
	if b.Kind != "Backup" || b.APIVersion != arkv1.SchemeGroupVersion.String() || b.Name != "vnginx" ||
		b.Status.Phase != arkv1.BackupPhaseCompleted || !reflect.DeepEqual(b.Spec.IncludedNamespaces, []string{"nginx-example"}) ||
		b.Spec.TTL.Duration.Hours() != 720 || b.UID != "" || b.Annotations[format.VeleroSourceAnnotation] != "velero" {
		t.Errorf("converted backup = %+v", b)
	}
	w, err := s.GetBackup(ctx, "vwidgets")
	if err != nil {
		t.Fatal(err)
	}
	if w.Spec.LabelSelector == nil || w.Spec.LabelSelector.MatchLabels["app"] != "widget" {
		t.Errorf("vwidgets selector = %v", w.Spec.LabelSelector)
	}
	rc, err := s.GetBackupContents(ctx, "vnginx")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if len(data) != 2258 {
		t.Errorf("tarball is %d bytes, want 2258", len(data))
	}
	if _, err := s.GetBackup(ctx, "nope"); !errors.Is(err, cloudprovider.ErrNotFound) {
		t.Errorf("missing backup: %v", err)
	}
}

func TestVeleroBucketIsReadOnly(t *testing.T) {
	ctx := context.Background()
	s := veleroBucket(t)
	writes := map[string]error{
		"PutBackupObject":   s.PutBackupObject(ctx, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, strings.NewReader("x"), nil),
		"DeleteBackup":      s.DeleteBackup(ctx, "vnginx"),
		"PutRestoreLog":     s.PutRestoreLog(ctx, "vnginx", "r", strings.NewReader("x")),
		"PutRestoreResults": s.PutRestoreResults(ctx, "vnginx", "r", strings.NewReader("x")),
	}
	for name, err := range writes {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: %v, want ErrReadOnly", name, err)
		}
	}
	if _, err := s.Key(DownloadTarget{Kind: DownloadRestoreLog, Name: "r", BackupName: "vnginx"}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("restore log key: %v", err)
	}
	if names, _ := s.ListBackups(ctx); len(names) != 2 {
		t.Errorf("a write changed the bucket: %v", names)
	}
	if _, err := NewBackupStoreForLayout(s.store, "velero", "", "restic"); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
		t.Errorf("unknown layout: %v", err)
	}
}
