package persistence

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

func backupNamed(name, uid string) *v1.Backup {
	return &v1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid)}}
}

func TestCreateBackupMetadataClaimsTheName(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	s, _ := NewBackupStore(f, "bucket", "")
	if err := s.CreateBackupMetadata(ctx, backupNamed("b", "uid-a")); err != nil {
		t.Fatal(err)
	}
	f.ops = nil
	err := s.CreateBackupMetadata(ctx, backupNamed("b", "uid-b"))
	if !errors.Is(err, ErrBackupExists) {
		t.Fatalf("second claim: %v, want ErrBackupExists", err)
	}
	got, err := s.GetBackup(ctx, "b")
	if err != nil || got.UID != "uid-a" {
		t.Fatalf("after the lost claim: %+v, %v; want the winner's metadata", got, err)
	}
	for _, op := range f.ops {
		if strings.HasPrefix(op, "put ") && op != "put b/ark-backup.json" || strings.HasPrefix(op, "delete ") {
			t.Errorf("the loser wrote %q", op)
		}
	}
	// A name being deleted is taken too.
	if err := s.MarkDeleting(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBackupMetadata(ctx, backupNamed("b", "uid-c")); !errors.Is(err, ErrBackupExists) {
		t.Fatalf("claim during a deletion: %v, want ErrBackupExists", err)
	}
}

func TestDeletionMarkerAndPrefixes(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	s, _ := NewBackupStore(f, "bucket", "")
	for _, n := range []string{"b", "b-2", "bb"} {
		putBackup(t, s, n)
		if err := s.PutRestoreLog(ctx, n, "r", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.GetBackup(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBackupFiles(ctx, "b"); !errors.Is(err, ErrBackupExists) {
		t.Fatalf("DeleteBackupFiles before MarkDeleting: %v, want a refusal", err)
	}
	b.Status.VolumeBackups = map[string]*v1.VolumeBackupInfo{"pv": {SnapshotID: "snap-1"}}
	if err := s.MarkDeleting(ctx, b); err != nil {
		t.Fatal(err)
	}
	if names, _ := s.ListBackups(ctx); strings.Join(names, ",") != "b-2,bb" {
		t.Fatalf("ListBackups while b is being deleted = %v", names)
	}
	if ok, err := s.BackupExists(ctx, "b"); ok || err != nil {
		t.Fatalf("BackupExists(b) = %v, %v", ok, err)
	}
	m, err := s.GetDeletionMarker(ctx, "b")
	if err != nil || m.Status.VolumeBackups["pv"].SnapshotID != "snap-1" {
		t.Fatalf("deletion marker = %+v, %v", m, err)
	}
	// Interrupted between the restores' files and the rest: retried, it finishes.
	f.failOn["delete b/b.tar.gz"] = true
	if err := s.DeleteBackupFiles(ctx, "b"); err == nil {
		t.Fatal("no error from a failed delete")
	}
	if _, ok := f.objects["bucket/b/restore-r-logs.gz"]; ok {
		t.Error("restore files not deleted first")
	}
	if _, err := s.GetDeletionMarker(ctx, "b"); err != nil {
		t.Errorf("marker gone before the last file: %v", err)
	}
	delete(f.failOn, "delete b/b.tar.gz")
	if err := s.DeleteBackupFiles(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if left, _ := f.ListObjects(ctx, "bucket", "b/"); len(left) != 0 {
		t.Fatalf("left: %v", left)
	}
	for _, n := range []string{"b-2", "bb"} {
		if keys, _ := f.ListObjects(ctx, "bucket", n+"/"); len(keys) != 4 {
			t.Errorf("%s damaged: %v", n, keys)
		}
	}
	if _, err := s.GetDeletionMarker(ctx, "b"); !errors.Is(err, ErrBackupNotFound) {
		t.Errorf("marker after the deletion: %v", err)
	}
}

func TestChecksum(t *testing.T) {
	ctx := context.Background()
	s, _ := NewBackupStore(newFake(), "bucket", "")
	data := bytes.Repeat([]byte("ark tarball "), 1000)
	sum, err := s.PutBackupContents(ctx, "b", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Size != int64(len(data)) || len(sum.SHA256) != 64 {
		t.Fatalf("checksum %+v", sum)
	}
	flipped := bytes.Clone(data)
	flipped[500] ^= 1
	for name, tc := range map[string]struct {
		data    []byte
		wantErr bool
	}{
		"intact":    {data, false},
		"flipped":   {flipped, true},
		"truncated": {data[:len(data)-1], true},
		"longer":    {append(bytes.Clone(data), 'x'), true},
	} {
		_, err := io.Copy(io.Discard, VerifyContents(bytes.NewReader(tc.data), sum, "b"))
		if tc.wantErr != errors.Is(err, ErrChecksumMismatch) || (!tc.wantErr && err != nil) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
