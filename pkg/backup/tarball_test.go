package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"
)

// A backup's entries carry no PAX header (an mtime with nanoseconds would
// add one to every entry: two more 512-byte blocks, and a map for the
// reader), and every name written is remembered.
func TestTarballEntriesWithoutPAX(t *testing.T) {
	var buf bytes.Buffer
	tw := newTarWriter(&buf, time.Date(2026, 11, 30, 14, 0, 0, 123456789, time.UTC))
	names := []string{"resources/configmaps/namespaces/ns/a.json", "resources/configmaps/namespaces/ns/b.json"}
	for _, n := range names {
		if err := tw.writeFile(n, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if !tw.has(n) {
			t.Errorf("%s not remembered", n)
		}
	}
	if err := tw.writeFile(names[0], []byte(`{}`)); err == nil {
		t.Errorf("%s written twice", names[0])
	}
	if tw.has("resources/configmaps/namespaces/ns/c.json") {
		t.Error("a name never written is remembered")
	}
	if err := tw.close(); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Format == tar.FormatPAX || len(hdr.PAXRecords) > 0 {
			t.Errorf("%s: format %v, PAX records %v", hdr.Name, hdr.Format, hdr.PAXRecords)
		}
		if !hdr.ModTime.Equal(time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: mtime %v", hdr.Name, hdr.ModTime)
		}
	}
}
