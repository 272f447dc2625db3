package restore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// A restore extracts its backup into a directory <TempDir>/ark-restore-*
// (0700) holding one spool file (0600), locked (flock) while the restore
// runs, and removed when it ends. A crash leaves them behind: the backup's
// objects, Secrets included, at rest on the server's disk.
const (
	spoolDirPrefix = "ark-restore-"
	spoolName      = "items.spool"
)

// lockSpool marks the spool as in use until it is closed.
func lockSpool(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }

// RemoveStaleSpools removes the extraction directories under tmpParent (""
// for os.TempDir()) that no running restore holds: those of a server that
// crashed or was killed. The server calls it at start. It returns how many it
// removed; what cannot be removed is left and the error says why.
func RemoveStaleSpools(tmpParent string) (int, error) {
	if tmpParent == "" {
		tmpParent = os.TempDir()
	}
	dirs, err := filepath.Glob(filepath.Join(tmpParent, spoolDirPrefix+"*"))
	if err != nil {
		return 0, err
	}
	var errs []error
	removed := 0
	for _, dir := range dirs {
		if st, err := os.Lstat(dir); err != nil || !st.IsDir() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, spoolName))
		if err == nil {
			busy := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
			if busy {
				_ = f.Close()
				continue
			}
			// Removed while locked: a restore starting now makes its own directory.
			err = os.RemoveAll(dir)
			_ = f.Close()
		} else if errors.Is(err, fs.ErrNotExist) {
			err = os.RemoveAll(dir) // crashed before its spool existed
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}
