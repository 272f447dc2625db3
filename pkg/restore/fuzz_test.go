package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzExtract feeds arbitrary bytes (seeded with valid, malicious and
// corrupt tarballs) to extract: it must return an archive or an error, never
// write outside its directory, and leave nothing behind once closed.
func FuzzExtract(f *testing.F) {
	f.Add(makeTarball(f, file("metadata/version", []byte("1")), file("resources/configmaps/namespaces/ns1/c1.json", cmJSON)))
	f.Add(makeTarball(f, file("resources/configmaps/v1-preferredversion/namespaces/ns1/c1.json", cmJSON)))
	f.Add(makeTarball(f, file("../x", []byte("owned"))))
	f.Add(makeTarball(f, tarEntry{hdr: tar.Header{Name: "resources/d", Typeflag: tar.TypeSymlink, Linkname: ".."}}, file("resources/d/x", []byte("owned"))))
	f.Add(readFixture(f, "vnginx.tar.gz"))
	f.Add([]byte("not a tarball"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		parent := filepath.Join(base, "p")
		if err := os.Mkdir(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		a, err := extract(context.Background(), bytes.NewReader(data), parent, ArchiveLimits{MaxEntries: 1000, MaxTotalBytes: 1 << 20})
		if err == nil {
			for _, items := range a.byResource {
				for i := range items {
					if _, err := a.read(&items[i]); err != nil {
						t.Fatalf("read %s: %v", items[i].String(), err)
					}
				}
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
		}
		assertEmptyDir(t, parent)
		entries, err := os.ReadDir(base)
		if err != nil || len(entries) != 1 {
			t.Fatalf("%s holds %v (%v)", base, entries, err)
		}
	})
}
