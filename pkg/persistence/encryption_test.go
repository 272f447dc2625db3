package persistence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	v1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/encryption"
	"github.com/heptio/ark/pkg/format"
)

func testKeyring(t *testing.T, encryptFor, decryptWith []*age.X25519Identity) *encryption.Keyring {
	t.Helper()
	var rs []string
	for _, k := range encryptFor {
		rs = append(rs, k.Recipient().String())
	}
	recipients, err := encryption.ParseRecipients(rs)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, k := range decryptWith {
		lines = append(lines, k.String())
	}
	var ids []encryption.Identity
	if len(lines) > 0 {
		if ids, err = encryption.ParseIdentities([]byte(strings.Join(lines, "\n"))); err != nil {
			t.Fatal(err)
		}
	}
	return encryption.NewKeyring(recipients, ids)
}

func newAgeKey(t *testing.T) *age.X25519Identity {
	t.Helper()
	k, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// An encrypting store writes every file but the metadata as age, checksums the stored bytes,
// reads its files back, refuses a plain tarball in an encrypted backup and a backup for keys
// it does not hold, and re-encrypts a download for the client's key.
func TestEncryptedStore(t *testing.T) {
	ctx := context.Background()
	k1, k2 := newAgeKey(t), newAgeKey(t)
	fake := newFake()
	s, err := NewBackupStore(fake, "bkt", "p")
	if err != nil {
		t.Fatal(err)
	}
	s.SetKeyring(testKeyring(t, []*age.X25519Identity{k1}, []*age.X25519Identity{k1}))
	tarball := []byte("plain tarball with a secret")
	b := &v1.Backup{}
	b.Name = "b1"
	b.Status.Encryption = s.Encryption()
	if b.Status.Encryption == nil || b.Status.Encryption.KeyIDs[0] != k1.Recipient().String() {
		t.Fatalf("Encryption() = %+v", b.Status.Encryption)
	}
	sum, err := s.PutBackupContents(ctx, "b1", bytes.NewReader(tarball))
	if err != nil {
		t.Fatal(err)
	}
	b.Status.Contents = &sum
	if err := s.PutBackupLog(ctx, "b1", strings.NewReader("log")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBackupMetadata(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRestoreLog(ctx, "b1", "r1", strings.NewReader("restore log")); err != nil {
		t.Fatal(err)
	}
	for key, data := range fake.objects {
		isMeta := strings.HasSuffix(key, format.MetadataFile)
		if isAge := bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")); isAge == isMeta {
			t.Errorf("%s: age file %v", key, isAge)
		}
	}
	stored := fake.objects["bkt/p/b1/b1.tar.gz"]
	h := sha256.Sum256(stored)
	if sum.SHA256 != hex.EncodeToString(h[:]) || sum.Size != int64(len(stored)) {
		t.Errorf("checksum %+v is not of the stored bytes", sum)
	}
	read := func(s *BackupStore, data []byte, kind DownloadKind) (string, error) {
		r, err := s.Plaintext(VerifyContents(bytes.NewReader(data), sum, "b1"), b, kind)
		if err != nil {
			return "", err
		}
		got, err := io.ReadAll(r)
		return string(got), err
	}
	if got, err := read(s, stored, DownloadBackupContents); err != nil || got != string(tarball) {
		t.Fatalf("Plaintext: %q, %v", got, err)
	}

	t.Run("a plain tarball swapped in", func(t *testing.T) {
		if _, err := s.Plaintext(bytes.NewReader(tarball), b, DownloadBackupContents); !errors.Is(err, ErrNotEncrypted) {
			t.Fatalf("got %v, want ErrNotEncrypted", err)
		}
	})
	t.Run("rotation: a store with the new key and the old identity reads it", func(t *testing.T) {
		rotated, _ := NewBackupStore(fake, "bkt", "p")
		rotated.SetKeyring(testKeyring(t, []*age.X25519Identity{k2}, []*age.X25519Identity{k2, k1}))
		if got, err := read(rotated, stored, DownloadBackupContents); err != nil || got != string(tarball) {
			t.Fatalf("Plaintext: %q, %v", got, err)
		}
	})
	t.Run("the old identity gone", func(t *testing.T) {
		lost, _ := NewBackupStore(fake, "bkt", "p")
		lost.SetKeyring(testKeyring(t, []*age.X25519Identity{k2}, []*age.X25519Identity{k2}))
		err := lost.CanDecrypt(b)
		if !errors.Is(err, encryption.ErrNoKey) || !strings.Contains(err.Error(), `backup "b1" is encrypted for key(s) `+k1.Recipient().String()) {
			t.Fatalf("CanDecrypt: %v", err)
		}
		if _, err := read(lost, stored, DownloadBackupContents); !errors.Is(err, encryption.ErrNoKey) {
			t.Fatalf("Plaintext: %v", err)
		}
	})
	t.Run("a decrypt-only store encrypts restore files for the backup's keys", func(t *testing.T) {
		only, _ := NewBackupStore(fake, "bkt", "p")
		only.SetKeyring(testKeyring(t, nil, []*age.X25519Identity{k1}))
		if err := only.PutRestoreResults(ctx, "b1", "r2", strings.NewReader("results")); err != nil {
			t.Fatal(err)
		}
		data := fake.objects["bkt/p/b1/restore-r2-results.gz"]
		dec, err := age.Decrypt(bytes.NewReader(data), k1)
		if err != nil {
			t.Fatalf("restore results not encrypted for the backup's key: %v", err)
		}
		if got, _ := io.ReadAll(dec); string(got) != "results" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("a download is re-encrypted for the client", func(t *testing.T) {
		client := newAgeKey(t)
		u, err := s.GetDownloadURLFor(ctx, DownloadTarget{Kind: DownloadBackupContents, Name: "b1"}, time.Minute, client.Recipient().String(), "uid-1")
		if err != nil {
			t.Fatal(err)
		}
		tmp := "bkt/p/" + format.DownloadsDir + "uid-1" + format.EncryptedDownloadSuffix
		if !strings.Contains(u, format.DownloadsDir+"uid-1") {
			t.Errorf("URL %q is not the temporary object's", u)
		}
		dec, err := age.Decrypt(bytes.NewReader(fake.objects[tmp]), client)
		if err != nil {
			t.Fatalf("the temporary object does not decrypt with the client's key: %v", err)
		}
		if got, _ := io.ReadAll(dec); string(got) != string(tarball) {
			t.Fatalf("got %q", got)
		}
		if ids, err := s.ListDownloads(ctx); err != nil || len(ids) != 1 || ids[0] != "uid-1" {
			t.Fatalf("ListDownloads: %v %v", ids, err)
		}
		if err := s.DeleteDownload(ctx, "uid-1"); err != nil {
			t.Fatal(err)
		}
		if _, ok := fake.objects[tmp]; ok {
			t.Error("DeleteDownload left the temporary object")
		}
		if names, _ := s.ListBackups(ctx); len(names) != 1 {
			t.Errorf("ListBackups sees %v", names)
		}
		// No recipient: the stored file.
		if u, err := s.GetDownloadURLFor(ctx, DownloadTarget{Kind: DownloadBackupContents, Name: "b1"}, time.Minute, "", "uid-2"); err != nil || strings.Contains(u, format.DownloadsDir) {
			t.Errorf("raw download URL %q, %v", u, err)
		}
	})
}
