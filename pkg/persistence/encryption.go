package persistence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/encryption"
	"github.com/heptio/ark/pkg/format"
)

// Encryption of a backup's files (README, Encryption). With a Keyring that has recipients,
// every file the store writes except the metadata is encrypted with age on its way to the
// bucket, after the writer's gzip; the file names stay the same (an age file says what it
// is in its first line, so old plain backups stay readable side by side). ark-backup.json
// stays plain for the sync and records the key identifiers in status.encryption; the
// tarball's checksum (status.contents) is of the stored, encrypted bytes.

// ErrNotEncrypted is matched (errors.Is) by the error for a file stored in plain while its
// backup's metadata says the backup is encrypted: it was replaced in the bucket.
var ErrNotEncrypted = errors.New("stored unencrypted, but its backup is recorded as encrypted")

// SetKeyring makes the store encrypt what it writes for k's recipients (if any) and decrypt
// with k's identities. Call it before the store is used; nil turns encryption off.
func (s *BackupStore) SetKeyring(k *encryption.Keyring) { s.keys = k }

// Encryption returns what a new backup's status.encryption records: nil when the store
// does not encrypt.
func (s *BackupStore) Encryption() *v1.BackupEncryption {
	if !s.keys.Enabled() {
		return nil
	}
	return &v1.BackupEncryption{Scheme: v1.EncryptionSchemeAge, KeyIDs: s.keys.RecipientIDs()}
}

// putObject writes r at key, encrypted when the store encrypts. It returns the size and
// SHA-256 of the stored bytes.
func (s *BackupStore) putObject(ctx context.Context, key string, r io.Reader) (v1.ContentsChecksum, error) {
	if s.keys.Enabled() {
		enc, err := s.keys.EncryptReader(r)
		if err != nil {
			return v1.ContentsChecksum{}, err
		}
		defer enc.Close()
		r = enc
	}
	h := newHashingReader(r)
	if err := s.store.PutObject(ctx, s.bucket, key, h); err != nil {
		return v1.ContentsChecksum{}, err
	}
	return h.sum(), nil
}

// putRestoreFile writes a restore's file of backup: encrypted for the store's recipients, or,
// on a server that only decrypts (no recipients configured, as a second cluster holding a
// break-glass key), for the keys the backup itself is encrypted for, so that what a restore
// of an encrypted backup writes is never plain.
func (s *BackupStore) putRestoreFile(ctx context.Context, backup, key string, r io.Reader) (v1.ContentsChecksum, error) {
	// Without any key the server restores no encrypted backup (CanDecrypt): nothing to look up.
	if s.keys.Enabled() || s.keys == nil {
		return s.putObject(ctx, key, r)
	}
	b, err := s.GetBackup(ctx, backup)
	if err != nil && !errors.Is(err, ErrBackupNotFound) {
		return v1.ContentsChecksum{}, err
	}
	if err != nil || b.Status.Encryption == nil {
		return s.putObject(ctx, key, r)
	}
	keys, err := s.keys.ForKeys(b.Status.Encryption.KeyIDs)
	if err != nil {
		return v1.ContentsChecksum{}, fmt.Errorf("encrypting for the keys of backup %q: %w", backup, err)
	}
	enc, err := keys.EncryptReader(r)
	if err != nil {
		return v1.ContentsChecksum{}, err
	}
	defer enc.Close()
	h := newHashingReader(enc)
	if err := s.store.PutObject(ctx, s.bucket, key, h); err != nil {
		return v1.ContentsChecksum{}, err
	}
	return h.sum(), nil
}

// CanDecrypt returns nil if backup is not encrypted or the store holds an identity for one
// of its keys, else an error matching encryption.ErrNoKey: "backup X is encrypted for
// key(s) …, none of which is available".
func (s *BackupStore) CanDecrypt(backup *v1.Backup) error {
	e := backup.Status.Encryption
	if e == nil {
		return nil
	}
	if e.Scheme != v1.EncryptionSchemeAge {
		return fmt.Errorf("backup %q is encrypted with %q, which this server does not know (known: %s)", backup.Name, e.Scheme, v1.EncryptionSchemeAge)
	}
	return s.keys.CanDecrypt(fmt.Sprintf("backup %q", backup.Name), e.KeyIDs)
}

// Plaintext returns the plaintext of r, a file of backup read from the bucket (what names it
// in errors): r decrypted if it is an age file, else r itself. The tarball of a backup whose
// metadata records encryption must be encrypted (ErrNotEncrypted otherwise), so that a file
// swapped in the bucket is not restored; restore files are checked by content only, as a
// server encrypts them with its current keys whatever their backup's.
func (s *BackupStore) Plaintext(r io.Reader, backup *v1.Backup, kind DownloadKind) (io.Reader, error) {
	what := fmt.Sprintf("the %s of backup %q", kindName(kind), backup.Name)
	isAge, r, err := encryption.Sniff(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	e := backup.Status.Encryption
	if !isAge {
		if e != nil && kind != DownloadRestoreLog && kind != DownloadRestoreResults {
			return nil, fmt.Errorf("%w: %s", ErrNotEncrypted, what)
		}
		return r, nil
	}
	var keyIDs []string
	if e != nil && kind != DownloadRestoreLog && kind != DownloadRestoreResults {
		keyIDs = e.KeyIDs
		if err := s.CanDecrypt(backup); err != nil {
			return nil, err
		}
	}
	return s.keys.Decrypt(r, what, keyIDs)
}

func kindName(k DownloadKind) string {
	switch k {
	case DownloadBackupContents:
		return "tarball"
	case DownloadBackupLog:
		return "log"
	case DownloadBackupResourceList:
		return "resource list"
	case DownloadRestoreLog:
		return "restore log"
	case DownloadRestoreResults:
		return "restore results"
	}
	return string(k)
}

// downloadKey is the key of a download's temporary object: outside every backup's directory,
// under a name no backup can have (format.DownloadsDir).
func (s *BackupStore) downloadKey(id string) (string, error) {
	if err := ValidateName("download", id); err != nil {
		return "", err
	}
	return s.prefix + format.DownloadsDir + id + format.EncryptedDownloadSuffix, nil
}

// GetDownloadURLFor is GetDownloadURL for a client that gave an age recipient (a
// DownloadRequest's spec.recipient): when the file is encrypted in the bucket, it is
// decrypted here, encrypted again for recipient into the temporary object named by id (a
// DownloadRequest's UID), and the URL is that object's; the tarball is checked against its
// recorded checksum on the way (ErrChecksumMismatch). A plain file (an old backup), or an
// empty recipient, gives the stored file's URL; so does a store without keys, which reads
// nothing to sign (it could decrypt nothing: the client finds a file not for its key and says
// so). Delete the temporary object with DeleteDownload when the URL expires.
func (s *BackupStore) GetDownloadURLFor(ctx context.Context, target DownloadTarget, ttl time.Duration, recipient, id string) (string, error) {
	if recipient == "" || s.keys == nil {
		return s.GetDownloadURL(ctx, target, ttl)
	}
	rcpt, err := encryption.ParseRecipient(recipient)
	if err != nil {
		return "", fmt.Errorf("the download request's recipient: %w", err)
	}
	key, err := s.Key(target)
	if err != nil {
		return "", err
	}
	tmp, err := s.downloadKey(id)
	if err != nil {
		return "", err
	}
	backupName := target.Name
	if target.BackupName != "" {
		backupName = target.BackupName
	}
	backup, err := s.GetBackup(ctx, backupName)
	if err != nil {
		return "", err
	}
	raw, err := s.store.GetObject(ctx, s.bucket, key)
	if err != nil {
		return "", fmt.Errorf("reading the %s of %q: %w", kindName(target.Kind), target.Name, err)
	}
	defer raw.Close()
	isAge, stored, err := encryption.Sniff(raw)
	if err != nil {
		return "", fmt.Errorf("reading the %s of %q: %w", kindName(target.Kind), target.Name, err)
	}
	if !isAge && (backup.Status.Encryption == nil || target.Kind == DownloadRestoreLog || target.Kind == DownloadRestoreResults) {
		return s.GetDownloadURL(ctx, target, ttl)
	}
	if target.Kind == DownloadBackupContents && backup.Status.Contents != nil {
		stored = VerifyContents(stored, *backup.Status.Contents, backup.Name)
	}
	plain, err := s.Plaintext(stored, backup, target.Kind)
	if err != nil {
		return "", err
	}
	enc, err := encryption.EncryptReaderFor(plain, rcpt)
	if err != nil {
		return "", err
	}
	defer enc.Close()
	if err := s.store.PutObject(ctx, s.bucket, tmp, enc); err != nil {
		// A failed upload may have left part of the object: remove it.
		_ = s.store.DeleteObject(context.WithoutCancel(ctx), s.bucket, tmp)
		return "", fmt.Errorf("preparing the %s of %q for the client: %w", kindName(target.Kind), target.Name, err)
	}
	u, err := s.store.CreateSignedURL(ctx, s.bucket, tmp, ttl)
	if err != nil {
		return "", fmt.Errorf("creating download URL for %s %q: %w", target.Kind, target.Name, err)
	}
	return u, nil
}

// DeleteDownload deletes the temporary object of download id, if any.
func (s *BackupStore) DeleteDownload(ctx context.Context, id string) error {
	key, err := s.downloadKey(id)
	if err != nil {
		return err
	}
	return s.store.DeleteObject(ctx, s.bucket, key)
}

// ListDownloads returns the ids of the temporary download objects in the bucket (for the
// sweep of those a stopped server left behind).
func (s *BackupStore) ListDownloads(ctx context.Context) ([]string, error) {
	keys, err := s.store.ListObjects(ctx, s.bucket, s.prefix+format.DownloadsDir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range keys {
		id, ok := strings.CutSuffix(strings.TrimPrefix(k, s.prefix+format.DownloadsDir), format.EncryptedDownloadSuffix)
		if ok && ValidateName("download", id) == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
