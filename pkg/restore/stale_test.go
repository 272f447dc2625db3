package restore

import (
	"os"
	"path/filepath"
	"testing"
)

// A crashed restore's directory is removed; a running one's is kept.
func TestRemoveStaleSpools(t *testing.T) {
	parent := t.TempDir()
	stale := filepath.Join(parent, spoolDirPrefix+"crashed")
	empty := filepath.Join(parent, spoolDirPrefix+"early")
	other := filepath.Join(parent, "not-ours")
	for _, d := range []string{stale, empty, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(stale, spoolName), []byte("secret data"), 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := os.MkdirTemp(parent, spoolDirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(live, spoolName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lockSpool(f)

	n, err := RemoveStaleSpools(parent)
	if err != nil || n != 2 {
		t.Errorf("RemoveStaleSpools = %d, %v; want 2", n, err)
	}
	for d, want := range map[string]bool{stale: false, empty: false, other: true, live: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}
