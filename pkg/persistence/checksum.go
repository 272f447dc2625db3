package persistence

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	v1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// ErrChecksumMismatch is matched (errors.Is) by the error of a tarball whose size or
// SHA-256 differs from what its ark-backup.json records: it was corrupted or replaced.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// hashingReader counts and hashes what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newHashingReader(r io.Reader) *hashingReader { return &hashingReader{r: r, h: sha256.New()} }

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashingReader) sum() v1.ContentsChecksum {
	return v1.ContentsChecksum{Size: h.n, SHA256: hex.EncodeToString(h.h.Sum(nil))}
}

// VerifyContents returns a reader of r that, at r's end, returns an error matching
// ErrChecksumMismatch instead of io.EOF when what was read is not want (size and
// SHA-256), and stops with that error as soon as more than want.Size bytes were read.
// backup names the backup in the error.
func VerifyContents(r io.Reader, want v1.ContentsChecksum, backup string) io.Reader {
	return &verifyingReader{h: newHashingReader(r), want: want, backup: backup}
}

type verifyingReader struct {
	h      *hashingReader
	want   v1.ContentsChecksum
	backup string
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.h.Read(p)
	if v.h.n > v.want.Size {
		return n, v.mismatch()
	}
	if err == io.EOF {
		if got := v.h.sum(); got != v.want {
			return n, v.mismatch()
		}
	}
	return n, err
}

func (v *verifyingReader) mismatch() error {
	got := v.h.sum()
	if v.h.n > v.want.Size {
		return fmt.Errorf("%w: the tarball of backup %q is longer than the %d bytes its %s records: it was corrupted or replaced",
			ErrChecksumMismatch, v.backup, v.want.Size, format.MetadataFile)
	}
	return fmt.Errorf("%w: the tarball of backup %q has %d bytes and SHA-256 %s, its %s records %d bytes and SHA-256 %s: it was corrupted or replaced",
		ErrChecksumMismatch, v.backup, got.Size, got.SHA256, format.MetadataFile, v.want.Size, v.want.SHA256)
}
