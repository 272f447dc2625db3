package backup

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/heptio/ark/pkg/format"
)

// validPathSegment says whether a namespace or object name can be used as a
// path segment without leaving its directory.
func validPathSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// tarWriter streams regular files into a gzipped tar and remembers their
// names, so that no name is written twice.
type tarWriter struct {
	gz      *gzip.Writer
	tw      *tar.Writer
	written map[string]struct{}
	modTime time.Time
}

func newTarWriter(w io.Writer, modTime time.Time) *tarWriter {
	gz := gzip.NewWriter(w)
	return &tarWriter{gz: gz, tw: tar.NewWriter(gz), written: map[string]struct{}{}, modTime: modTime}
}

func (t *tarWriter) has(name string) bool {
	_, ok := t.written[name]
	return ok
}

func (t *tarWriter) writeFile(name string, data []byte) error {
	if t.has(name) {
		return fmt.Errorf("tarball entry %s written twice", name)
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     int64(len(data)),
		Mode:     0o644,
		ModTime:  t.modTime,
		Format:   tar.FormatPAX,
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing tarball entry %s: %w", name, err)
	}
	if _, err := t.tw.Write(data); err != nil {
		return fmt.Errorf("writing tarball entry %s: %w", name, err)
	}
	t.written[name] = struct{}{}
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
