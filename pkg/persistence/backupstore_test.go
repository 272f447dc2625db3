package persistence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
)

// fakeStore is an in-memory ObjectStore that records operations and can fail chosen ones.
type fakeStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	ops     []string
	failOn  map[string]bool // "put <key>" / "delete <key>" / "list <prefix>"
}

func newFake() *fakeStore {
	return &fakeStore{objects: map[string][]byte{}, failOn: map[string]bool{}}
}

func (f *fakeStore) record(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	if f.failOn[op] {
		return fmt.Errorf("injected failure of %s", op)
	}
	return nil
}

func (f *fakeStore) PutObject(_ context.Context, bucket, key string, body io.Reader) error {
	if err := f.record("put " + key); err != nil {
		return err
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[bucket+"/"+key] = b
	return nil
}

func (f *fakeStore) PutObjectIfAbsent(ctx context.Context, bucket, key string, body io.Reader) error {
	f.mu.Lock()
	_, exists := f.objects[bucket+"/"+key]
	f.mu.Unlock()
	if exists {
		return &cloudprovider.Error{Provider: "fake", Op: "put", Bucket: bucket, Key: key, Err: cloudprovider.ErrAlreadyExists}
	}
	return f.PutObject(ctx, bucket, key, body)
}

func (f *fakeStore) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := f.record("get " + key); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[bucket+"/"+key]
	if !ok {
		return nil, &cloudprovider.Error{Provider: "fake", Op: "get", Bucket: bucket, Key: key, Err: cloudprovider.ErrNotFound}
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (f *fakeStore) ListObjects(_ context.Context, bucket, prefix string) ([]string, error) {
	if err := f.record("list " + prefix); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ret []string
	for k := range f.objects {
		if key, ok := strings.CutPrefix(k, bucket+"/"); ok && strings.HasPrefix(key, prefix) {
			ret = append(ret, key)
		}
	}
	sort.Strings(ret)
	return ret, nil
}

func (f *fakeStore) DeleteObject(_ context.Context, bucket, key string) error {
	if err := f.record("delete " + key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objects, bucket+"/"+key)
	return nil
}

func (f *fakeStore) CreateSignedURL(_ context.Context, bucket, key string, _ time.Duration) (string, error) {
	return "https://signed.example/" + bucket + "/" + key, nil
}

func putBackup(t *testing.T, s *BackupStore, name string) {
	t.Helper()
	b := &v1.Backup{}
	b.Name = name
	err := s.PutBackupObject(context.Background(), b, strings.NewReader("tarball "+name), strings.NewReader("log "+name))
	if err != nil {
		t.Fatal(err)
	}
}

func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		prefix, wantDir string
	}{
		{"", ""},
		{"cluster-a", "cluster-a/"},
		{"/a/b/", "a/b/"},
	} {
		f := newFake()
		s, err := NewBackupStore(f, "bucket", tc.prefix)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		putBackup(t, s, "b1")
		if err := s.PutRestoreLog(ctx, "b1", "r1", strings.NewReader("rl")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRestoreResults(ctx, "b1", "r1", strings.NewReader("rr")); err != nil {
			t.Fatal(err)
		}
		d := tc.wantDir + "b1/"
		want := []string{
			"put " + d + "b1.tar.gz", "put " + d + "b1-logs.gz", "put " + d + "ark-backup.json",
			"put " + d + "restore-r1-logs.gz", "put " + d + "restore-r1-results.gz",
		}
		if strings.Join(f.ops, "\n") != strings.Join(want, "\n") {
			t.Errorf("prefix %q: ops\n%s\nwant\n%s", tc.prefix, strings.Join(f.ops, "\n"), strings.Join(want, "\n"))
		}
		for _, tt := range []struct {
			target DownloadTarget
			key    string
		}{
			{DownloadTarget{Kind: DownloadBackupContents, Name: "b1"}, d + "b1.tar.gz"},
			{DownloadTarget{Kind: DownloadBackupLog, Name: "b1"}, d + "b1-logs.gz"},
			{DownloadTarget{Kind: DownloadRestoreLog, Name: "r1", BackupName: "b1"}, d + "restore-r1-logs.gz"},
			{DownloadTarget{Kind: DownloadRestoreResults, Name: "r1", BackupName: "b1"}, d + "restore-r1-results.gz"},
		} {
			u, err := s.GetDownloadURL(ctx, tt.target, time.Minute)
			if err != nil || u != "https://signed.example/bucket/"+tt.key {
				t.Errorf("GetDownloadURL(%+v) = %q, %v; want key %s", tt.target, u, err, tt.key)
			}
		}
	}
}

func TestPutBackupFailureNeverWritesMetadata(t *testing.T) {
	for _, failing := range []string{"put b1/b1.tar.gz", "put b1/b1-logs.gz", "put b1/ark-backup.json"} {
		f := newFake()
		f.failOn[failing] = true
		s, _ := NewBackupStore(f, "bucket", "")
		b := &v1.Backup{}
		b.Name = "b1"
		err := s.PutBackupObject(context.Background(), b, strings.NewReader("t"), strings.NewReader("l"))
		if err == nil {
			t.Errorf("%s: PutBackup succeeded", failing)
		}
		if _, ok := f.objects["bucket/b1/ark-backup.json"]; ok {
			t.Errorf("%s: metadata written", failing)
		}
		if names, _ := s.ListBackups(context.Background()); len(names) != 0 {
			t.Errorf("%s: ListBackups = %v", failing, names)
		}
		if last := f.ops[len(f.ops)-2]; failing != "put b1/ark-backup.json" && strings.Contains(last, "ark-backup.json") {
			t.Errorf("%s: metadata was attempted after a failure", failing)
		}
	}
}

func TestDeleteBackupDeletesMetadataFirst(t *testing.T) {
	f := newFake()
	s, _ := NewBackupStore(f, "bucket", "p")
	putBackup(t, s, "b1")
	putBackup(t, s, "b10")
	_ = s.PutRestoreLog(context.Background(), "b1", "r", strings.NewReader("x"))
	f.ops = nil
	f.failOn["delete p/b1/b1.tar.gz"] = true
	if err := s.DeleteBackup(context.Background(), "b1"); err == nil {
		t.Fatal("DeleteBackup succeeded despite a failed delete")
	}
	if strings.Join(f.ops[:3], "\n") != "get p/b1/ark-backup.json\nput p/b1/ark-backup-deleting.json\ndelete p/b1/ark-backup.json" {
		t.Fatalf("first ops %q, want the metadata replaced by the deletion marker", f.ops[:3])
	}
	names, _ := s.ListBackups(context.Background())
	if strings.Join(names, ",") != "b10" {
		t.Fatalf("ListBackups = %v, want [b10]", names)
	}
	delete(f.failOn, "delete p/b1/b1.tar.gz")
	if err := s.DeleteBackup(context.Background(), "b1"); err != nil {
		t.Fatal(err)
	}
	left, _ := f.ListObjects(context.Background(), "bucket", "p/b1/")
	if len(left) != 0 {
		t.Fatalf("left after delete: %v", left)
	}
	if keys, _ := f.ListObjects(context.Background(), "bucket", "p/b10/"); len(keys) != 3 {
		t.Fatalf("b10 damaged: %v", keys)
	}
}

func TestNames(t *testing.T) {
	s, _ := NewBackupStore(newFake(), "bucket", "")
	ctx := context.Background()
	bad := []string{"", "..", ".", "a/b", "../b", "B", "a_b", "-a", "a-", strings.Repeat("a", 254), "a..b", "a/../b", "/a"}
	for _, name := range bad {
		if _, err := s.PutBackupContents(ctx, name, strings.NewReader("")); !errors.Is(err, ErrInvalidName) {
			t.Errorf("PutBackupContents(%q) = %v, want ErrInvalidName", name, err)
		}
		if _, err := s.GetBackupMetadata(ctx, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("GetBackupMetadata(%q) = %v", name, err)
		}
		if err := s.DeleteBackup(ctx, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("DeleteBackup(%q) = %v", name, err)
		}
		if err := s.PutRestoreLog(ctx, "b", name, strings.NewReader("")); !errors.Is(err, ErrInvalidName) {
			t.Errorf("PutRestoreLog(b, %q) = %v", name, err)
		}
		if _, err := s.GetDownloadURL(ctx, DownloadTarget{Kind: DownloadBackupLog, Name: name}, time.Minute); !errors.Is(err, ErrInvalidName) {
			t.Errorf("GetDownloadURL(%q) = %v", name, err)
		}
	}
	for _, good := range []string{"a", "daily-20261121070000", "a.b", "0", strings.Repeat("a", 253)} {
		if err := ValidateName("backup", good); err != nil {
			t.Errorf("ValidateName(%q) = %v", good, err)
		}
	}
	// A restore named x of backup restore-x would write that backup's own log.
	if err := s.PutRestoreLog(ctx, "restore-x", "x", strings.NewReader("")); !errors.Is(err, ErrInvalidName) {
		t.Errorf("colliding restore name: %v", err)
	}
	if _, err := s.GetDownloadURL(ctx, DownloadTarget{Kind: DownloadRestoreLog, Name: "r"}, time.Minute); err == nil {
		t.Error("restore target without backup name accepted")
	}
	if _, err := s.GetDownloadURL(ctx, DownloadTarget{Kind: "Other", Name: "r"}, time.Minute); err == nil {
		t.Error("unknown kind accepted")
	}
	for _, prefix := range []string{"a/../b", "..", "a//b"} {
		if _, err := NewBackupStore(newFake(), "bucket", prefix); err == nil {
			t.Errorf("prefix %q accepted", prefix)
		}
	}
}

// TestFilesystem runs the whole cycle on the filesystem provider, signed URL included.
func TestFilesystem(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "ark"), 0o755); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := newServer(t, mux)
	fs, err := filesystem.New(filesystem.Options{Root: root, DownloadBaseURL: srv + "/dl"})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/dl/", fs.DownloadHandler())
	s, err := NewBackupStore(fs, "ark", "prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b2", "b1", "b3", "b-1"} {
		putBackup(t, s, name)
	}
	// A backup without metadata (upload in progress or failed) and stray files are not listed.
	if err := fs.PutObject(ctx, "ark", "prod/partial/partial.tar.gz", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := fs.PutObject(ctx, "ark", "prod/Bad_Name/ark-backup.json", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := fs.PutObject(ctx, "ark", "prod/a/b/ark-backup.json", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	names, err := s.ListBackups(ctx)
	if err != nil || strings.Join(names, ",") != "b-1,b1,b2,b3" {
		t.Fatalf("ListBackups = %v, %v", names, err)
	}
	meta, err := s.GetBackupMetadata(ctx, "b2")
	if err != nil || !strings.Contains(string(meta), `"name":"b2"`) {
		t.Fatalf("GetBackupMetadata = %q, %v", meta, err)
	}
	if _, err := s.GetBackupMetadata(ctx, "partial"); !errors.Is(err, cloudprovider.ErrNotFound) || !errors.Is(err, ErrBackupNotFound) {
		t.Fatalf("metadata of partial backup: %v", err)
	}
	rc, err := s.GetBackupContents(ctx, "b3")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "tarball b3" {
		t.Fatalf("contents = %q", b)
	}
	u, err := s.GetDownloadURL(ctx, DownloadTarget{Kind: DownloadBackupLog, Name: "b1"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "log b1" {
		t.Fatalf("download = %d %q", resp.StatusCode, b)
	}
	if err := s.DeleteBackup(ctx, "b2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBackup(ctx, "b2"); err != nil {
		t.Fatalf("deleting a deleted backup: %v", err)
	}
	names, _ = s.ListBackups(ctx)
	if strings.Join(names, ",") != "b-1,b1,b3" {
		t.Fatalf("after delete ListBackups = %v", names)
	}
	if _, err := os.Stat(filepath.Join(root, "ark", "prod", "b2")); !os.IsNotExist(err) {
		t.Fatalf("backup directory left: %v", err)
	}
}

func TestTyped(t *testing.T) {
	ctx := context.Background()
	s, _ := NewBackupStore(newFake(), "bucket", "")
	b := &v1.Backup{}
	b.Name = "typed"
	b.Namespace = "heptio-ark"
	if err := s.PutBackupObject(ctx, b, strings.NewReader("t"), nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBackup(ctx, "typed")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "typed" || got.Kind != "Backup" || got.APIVersion != v1.SchemeGroupVersion.String() {
		t.Fatalf("got %s %s %s", got.Name, got.Kind, got.APIVersion)
	}
	tgt := TargetFromAPI(v1.DownloadTarget{Kind: v1.DownloadTargetKindRestoreLog, Name: "r"}, "typed")
	if k, err := s.Key(tgt); err != nil || k != "typed/restore-r-logs.gz" {
		t.Fatalf("Key = %q, %v", k, err)
	}
}
