// Package verify checks that a backup is whole and restorable without
// restoring it: its tarball in the bucket matches the size and SHA-256 its
// metadata records, every item decodes as the object its path names, and
// every volume snapshot it names still exists.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/encryption"
	"github.com/heptio/ark/pkg/persistence"
	"github.com/heptio/ark/pkg/restore"
)

// Store is what a verification reads of the bucket (persistence.BackupStore).
type Store interface {
	// GetBackup returns the backup's metadata (ark-backup.json); a backup that is
	// not whole gives persistence.ErrBackupNotFound.
	GetBackup(ctx context.Context, name string) (*arkv1.Backup, error)
	// GetBackupContents streams the backup's tarball.
	GetBackupContents(ctx context.Context, name string) (io.ReadCloser, error)
	// Plaintext decrypts a file of an encrypted backup; an error matching
	// encryption.ErrNoKey when no identity of the backup's keys is held.
	Plaintext(r io.Reader, backup *arkv1.Backup, kind persistence.DownloadKind) (io.Reader, error)
}

// SnapshotChecker reads a snapshot's backup tag from the cloud (or the CSI
// VolumeSnapshot API); a snapshot that does not exist gives an error
// matching cloudprovider.ErrSnapshotNotFound. controller.SnapshotDeleter
// implements it.
type SnapshotChecker interface {
	SnapshotBackupTag(ctx context.Context, snapshotID string) (string, error)
}

// Verifier verifies backups.
type Verifier struct {
	store   Store
	snaps   SnapshotChecker
	tempDir string
	limits  restore.ArchiveLimits
}

// New returns a Verifier reading store; snaps may be nil (no
// persistentVolumeProvider: a backup with snapshots then fails, as its
// snapshots cannot be checked). Items are spooled under tempDir ("" for the
// system's).
func New(store Store, snaps SnapshotChecker, tempDir string) *Verifier {
	return &Verifier{store: store, snaps: snaps, tempDir: tempDir}
}

// Result is what a verification found.
type Result struct {
	// Problems, sorted by kind: the tarball, its items, the snapshots. Empty: Passed.
	Problems []string
	// Notes are what could not be checked but is no fault of the backup (no
	// checksum recorded by an older writer, tags the provider cannot read).
	Notes []string
	// Items decoded, Snapshots checked.
	Items, Snapshots int
}

// Passed says whether nothing is wrong.
func (r Result) Passed() bool { return len(r.Problems) == 0 }

// maxItemProblems bounds the item problems listed; the rest are counted.
const maxItemProblems = 20

// Verify checks the backup name in the bucket. It returns an error only
// when the bucket cannot be read (the verification should be retried);
// everything wrong with the backup is a Problem.
func (v *Verifier) Verify(ctx context.Context, name string) (Result, error) {
	var res Result
	meta, err := v.store.GetBackup(ctx, name)
	if errors.Is(err, persistence.ErrBackupNotFound) {
		res.Problems = append(res.Problems, fmt.Sprintf("backup %q is not whole in the bucket (its ark-backup.json is missing: deleted, being deleted, or never finished)", name))
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("reading the backup's metadata in the bucket: %w", err)
	}
	body, err := v.store.GetBackupContents(ctx, name)
	if err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("reading the tarball: %v", err))
	} else {
		v.checkTarball(ctx, meta, body, &res)
		body.Close()
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	v.checkSnapshots(ctx, meta, &res)
	return res, nil
}

// checkTarball streams the tarball through the checksum into the restore's
// archive reader, decodes every item, then reads what is left (tar padding)
// so that the checksum sees every byte.
func (v *Verifier) checkTarball(ctx context.Context, meta *arkv1.Backup, body io.Reader, res *Result) {
	r := body
	if c := meta.Status.Contents; c != nil {
		r = persistence.VerifyContents(body, *c, meta.Name)
	} else {
		res.Notes = append(res.Notes, "the metadata records no size and SHA-256 of the tarball (written by an older ark, or by Velero): its bytes were not checked, only decoded")
	}
	var checksumErr error
	// The checksum is of the stored bytes (encrypted or not); the items are decoded
	// from the plaintext when the server holds a key of the backup.
	plain, err := v.store.Plaintext(r, meta, persistence.DownloadBackupContents)
	switch {
	case errors.Is(err, encryption.ErrNoKey):
		res.Notes = append(res.Notes, fmt.Sprintf("items not decoded: %v; the stored bytes were checked", err))
		plain = nil
	case err != nil:
		res.Problems = append(res.Problems, fmt.Sprintf("the tarball cannot be read: %v", err))
		plain = nil
	}
	var arc *restore.Archive
	if plain != nil {
		arc, err = restore.OpenArchive(ctx, plain, v.tempDir, v.limits)
	}
	switch {
	case plain == nil:
	case err != nil:
		// A checksum mismatch surfaces as the read error that stopped the
		// archive reader (the tarball is longer than recorded), or below.
		if errors.Is(err, persistence.ErrChecksumMismatch) {
			checksumErr = err
		} else {
			res.Problems = append(res.Problems, fmt.Sprintf("the tarball cannot be read: %v", err))
		}
	default:
		res.Items = arc.Items()
		bad := 0
		_ = arc.Each(func(ref restore.ItemRef, _ *unstructured.Unstructured, err error) error {
			if err != nil {
				bad++
				if bad <= maxItemProblems {
					res.Problems = append(res.Problems, fmt.Sprintf("item %s: %v", ref, err))
				}
			}
			return nil
		})
		if bad > maxItemProblems {
			res.Problems = append(res.Problems, fmt.Sprintf("and %d more items that cannot be decoded", bad-maxItemProblems))
		}
		_ = arc.Close()
		// age authenticates the last chunk at the plaintext's end.
		if _, err := io.Copy(io.Discard, plain); err != nil && !errors.Is(err, persistence.ErrChecksumMismatch) {
			res.Problems = append(res.Problems, fmt.Sprintf("reading the tarball: %v", err))
		}
	}
	if checksumErr == nil {
		if _, err := io.Copy(io.Discard, r); errors.Is(err, persistence.ErrChecksumMismatch) {
			checksumErr = err
		} else if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("reading the tarball: %v", err))
		}
	}
	if checksumErr != nil {
		// The archive reader may have stopped on the same error: say it once.
		msg := checksumErr.Error()
		kept := []string{msg}
		for _, p := range res.Problems {
			if !strings.Contains(p, msg) {
				kept = append(kept, p)
			}
		}
		res.Problems = kept
	}
}

// checkSnapshots checks that every snapshot the backup names exists and
// carries this backup's tag.
func (v *Verifier) checkSnapshots(ctx context.Context, meta *arkv1.Backup, res *Result) {
	pvs := make([]string, 0, len(meta.Status.VolumeBackups))
	for pv, info := range meta.Status.VolumeBackups {
		if info != nil && info.SnapshotID != "" {
			pvs = append(pvs, pv)
		}
	}
	sort.Strings(pvs)
	for _, pv := range pvs {
		id := meta.Status.VolumeBackups[pv].SnapshotID
		if v.snaps == nil {
			res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s of PV %s: no persistentVolumeProvider is configured to check it", id, pv))
			continue
		}
		res.Snapshots++
		tag, err := v.snaps.SnapshotBackupTag(ctx, id)
		switch {
		case errors.Is(err, cloudprovider.ErrSnapshotNotFound):
			res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s of PV %s no longer exists: the volume cannot be restored", id, pv))
		case errors.Is(err, cloudprovider.ErrTagsUnsupported):
			res.Notes = append(res.Notes, fmt.Sprintf("snapshot %s of PV %s: exists, but whose it is cannot be told: %v", id, pv, err))
		case err != nil:
			res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s of PV %s could not be checked: %v", id, pv, err))
		case tag != "" && tag != meta.Name:
			res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s of PV %s carries the tag of backup %q, not this one's", id, pv, tag))
		}
	}
}
