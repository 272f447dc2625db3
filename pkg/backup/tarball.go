package backup

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/heptio/ark/pkg/format"
)

// validPathSegment says whether a namespace or object name can be used as a
// path segment without leaving its directory.
func validPathSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// tarWriter streams regular files into a gzipped tar and remembers their
// names, so that no name is written twice.
//
// A name is remembered by the first 128 bits of its SHA-256, not as a string:
// a backup of 100,000 objects then keeps 2 MB of names rather than 9 MB, and
// two of its names collide with a probability of about 2^-95.
type tarWriter struct {
	gz      *gzip.Writer
	tw      *tar.Writer
	written map[nameSum]struct{}
	modTime time.Time
}

func newTarWriter(w io.Writer, modTime time.Time) *tarWriter {
	gz := gzip.NewWriter(w)
	// Whole seconds: a sub-second time would make every entry carry a PAX
	// header for its mtime (two more 512-byte blocks, and a map per entry for
	// the reader).
	return &tarWriter{gz: gz, tw: tar.NewWriter(gz), written: map[nameSum]struct{}{}, modTime: modTime.Truncate(time.Second)}
}

// nameSum is the first half of a tarball entry name's SHA-256.
type nameSum [16]byte

func sumName(name string) nameSum {
	full := sha256.Sum256([]byte(name))
	return nameSum(full[:16])
}

func (t *tarWriter) has(name string) bool {
	_, ok := t.written[sumName(name)]
	return ok
}

// writeFile writes one entry whose content is the parts, one after the other
// (an item's JSON may come as a head and the listed bytes, not copied into one).
func (t *tarWriter) writeFile(name string, parts ...[]byte) error {
	sum := sumName(name)
	if _, ok := t.written[sum]; ok {
		return fmt.Errorf("tarball entry %s written twice", name)
	}
	var size int64
	for _, p := range parts {
		size += int64(len(p))
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     0o644,
		ModTime:  t.modTime,
		Format:   tar.FormatPAX,
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing tarball entry %s: %w", name, err)
	}
	for _, p := range parts {
		if _, err := t.tw.Write(p); err != nil {
			return fmt.Errorf("writing tarball entry %s: %w", name, err)
		}
	}
	t.written[sum] = struct{}{}
	return nil
}

func (t *tarWriter) writeVersion() error {
	return t.writeFile(format.MetadataVersionPath, []byte(strconv.Itoa(format.FormatVersion)))
}

// close finishes the tar and the gzip stream; it does not close the
// underlying writer.
func (t *tarWriter) close() error {
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("closing tarball: %w", err)
	}
	if err := t.gz.Close(); err != nil {
		return fmt.Errorf("closing tarball: %w", err)
	}
	return nil
}
