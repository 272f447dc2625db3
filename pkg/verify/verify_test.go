package verify

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/persistence"
)

type fakeStore struct {
	meta     *arkv1.Backup
	tarball  []byte
	metaErr  error
	contents error
}

func (s *fakeStore) GetBackup(context.Context, string) (*arkv1.Backup, error) {
	return s.meta, s.metaErr
}

func (s *fakeStore) GetBackupContents(context.Context, string) (io.ReadCloser, error) {
	if s.contents != nil {
		return nil, s.contents
	}
	return io.NopCloser(bytes.NewReader(s.tarball)), nil
}

func (s *fakeStore) Plaintext(r io.Reader, _ *arkv1.Backup, _ persistence.DownloadKind) (io.Reader, error) {
	return r, nil
}

// fakeSnaps knows snapshots by ID, with their backup tag.
type fakeSnaps map[string]string

func (f fakeSnaps) SnapshotBackupTag(_ context.Context, id string) (string, error) {
	tag, ok := f[id]
	if !ok {
		return "", fmt.Errorf("snapshot %s: %w", id, cloudprovider.ErrSnapshotNotFound)
	}
	return tag, nil
}

func tarball(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func checksum(b []byte) *arkv1.ContentsChecksum {
	s := sha256.Sum256(b)
	return &arkv1.ContentsChecksum{Size: int64(len(b)), SHA256: hex.EncodeToString(s[:])}
}

const goodCM = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"ns1"}}`

func TestVerify(t *testing.T) {
	good := tarball(t, map[string]string{"metadata/version": "1", "resources/configmaps/namespaces/ns1/a.json": goodCM})
	badItem := tarball(t, map[string]string{
		"resources/configmaps/namespaces/ns1/a.json": goodCM,
		"resources/configmaps/namespaces/ns1/b.json": `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"not-b","namespace":"ns1"}}`,
		"resources/configmaps/namespaces/ns1/c.json": `{not json`,
	})
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0xff
	meta := func(contents *arkv1.ContentsChecksum, snaps map[string]string) *arkv1.Backup {
		b := &arkv1.Backup{}
		b.Name = "b1"
		b.Status.Contents = contents
		if snaps != nil {
			b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{}
			for pv, id := range snaps {
				b.Status.VolumeBackups[pv] = &arkv1.VolumeBackupInfo{SnapshotID: id}
			}
		}
		return b
	}
	for _, tc := range []struct {
		name      string
		store     *fakeStore
		snaps     SnapshotChecker
		problems  []string // substrings, in order
		atLeast   bool     // more problems may follow (what the corruption broke besides)
		notes     int
		items     int
		snapshots int
	}{
		{name: "whole", store: &fakeStore{meta: meta(checksum(good), map[string]string{"pv1": "snap-1"}), tarball: good},
			snaps: fakeSnaps{"snap-1": "b1"}, items: 1, snapshots: 1},
		{name: "bytes flipped", store: &fakeStore{meta: meta(checksum(good), nil), tarball: flipped},
			problems: []string{"checksum mismatch"}, atLeast: true},
		{name: "truncated", store: &fakeStore{meta: meta(checksum(good), nil), tarball: good[:len(good)-10]},
			problems: []string{"checksum mismatch"}},
		{name: "items that do not decode", store: &fakeStore{meta: meta(checksum(badItem), nil), tarball: badItem},
			problems: []string{"item configmaps ns1/b: the object's metadata names \"not-b\"", "item configmaps ns1/c: invalid item JSON"}, items: 3},
		{name: "no checksum recorded", store: &fakeStore{meta: meta(nil, nil), tarball: good}, notes: 1, items: 1},
		{name: "snapshot deleted", store: &fakeStore{meta: meta(checksum(good), map[string]string{"pv1": "snap-1", "pv2": "snap-2"}), tarball: good},
			snaps: fakeSnaps{"snap-1": "b1"}, problems: []string{"snapshot snap-2 of PV pv2 no longer exists"}, items: 1, snapshots: 2},
		{name: "snapshot of another backup", store: &fakeStore{meta: meta(checksum(good), map[string]string{"pv1": "snap-1"}), tarball: good},
			snaps: fakeSnaps{"snap-1": "other"}, problems: []string{`carries the tag of backup "other"`}, items: 1, snapshots: 1},
		{name: "no provider for the snapshots", store: &fakeStore{meta: meta(checksum(good), map[string]string{"pv1": "snap-1"}), tarball: good},
			problems: []string{"no persistentVolumeProvider"}, items: 1},
		{name: "not whole in the bucket", store: &fakeStore{metaErr: persistence.ErrBackupNotFound},
			problems: []string{"is not whole in the bucket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := New(tc.store, tc.snaps, t.TempDir()).Verify(context.Background(), "b1")
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != len(tc.problems) && !(tc.atLeast && len(res.Problems) > len(tc.problems)) {
				t.Fatalf("problems %q, want %d like %q", res.Problems, len(tc.problems), tc.problems)
			}
			for i, p := range tc.problems {
				if !strings.Contains(res.Problems[i], p) {
					t.Errorf("problem %d %q lacks %q", i, res.Problems[i], p)
				}
			}
			if len(res.Notes) != tc.notes || res.Items != tc.items || res.Snapshots != tc.snapshots {
				t.Errorf("notes %q items %d snapshots %d, want %d notes %d items %d snapshots", res.Notes, res.Items, res.Snapshots, tc.notes, tc.items, tc.snapshots)
			}
		})
	}
}

// A bucket that does not answer is an error (retried), not a verdict.
func TestVerifyBucketDown(t *testing.T) {
	_, err := New(&fakeStore{metaErr: io.ErrUnexpectedEOF}, nil, t.TempDir()).Verify(context.Background(), "b1")
	if err == nil {
		t.Fatal("no error")
	}
}
