package restore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/heptio/ark/pkg/format"
)

var cmJSON = []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","namespace":"ns1"}}`)

func TestExtractRejects(t *testing.T) {
	good := file("resources/configmaps/namespaces/ns1/c1.json", cmJSON)
	valid := makeTarball(t, file("metadata/version", []byte("1\n")), good)
	tests := []struct {
		name     string
		contents []byte
		limits   ArchiveLimits
		want     string
	}{
		{name: "dot-dot", contents: makeTarball(t, good, file("../x", []byte("owned"))), want: "leaves the archive's directory"},
		{name: "dot-dot inside", contents: makeTarball(t, file("resources/../../x", []byte("owned"))), want: "leaves the archive's directory"},
		{name: "absolute", contents: makeTarball(t, file("/tmp/x", []byte("owned"))), want: "absolute path"},
		{name: "symlink", contents: makeTarball(t, tarEntry{hdr: tar.Header{Name: "resources/configmaps/namespaces/ns1/l.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), want: "symbolic link"},
		{name: "symlink then write through it", contents: makeTarball(t,
			tarEntry{hdr: tar.Header{Name: "resources/d", Typeflag: tar.TypeSymlink, Linkname: ".."}},
			file("resources/d/x", []byte("owned"))), want: "symbolic link"},
		{name: "hardlink", contents: makeTarball(t, tarEntry{hdr: tar.Header{Name: "resources/configmaps/namespaces/ns1/h.json", Typeflag: tar.TypeLink, Linkname: "../x"}}), want: "hard link"},
		{name: "char device", contents: makeTarball(t, tarEntry{hdr: tar.Header{Name: "resources/dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), want: "device"},
		{name: "block device", contents: makeTarball(t, tarEntry{hdr: tar.Header{Name: "resources/blk", Typeflag: tar.TypeBlock}}), want: "device"},
		{name: "fifo", contents: makeTarball(t, tarEntry{hdr: tar.Header{Name: "resources/fifo", Typeflag: tar.TypeFifo}}), want: "fifo"},
		{name: "not clean", contents: makeTarball(t, file("resources//configmaps/x.json", cmJSON)), want: "not clean"},
		{name: "not gzip", contents: []byte("this is not a tarball"), want: "not gzip"},
		{name: "empty input", contents: nil, want: "not gzip"},
		{name: "truncated gzip", contents: valid[:len(valid)/2], want: "unexpected EOF"},
		{name: "corrupt checksum", contents: corruptTrailer(valid), want: "checksum"},
		{name: "gzip of garbage", contents: gzipOf(t, bytes.Repeat([]byte("x"), 2000)), want: "reading tar entry"},
		{name: "too many entries", contents: makeTarball(t, good, file("resources/configmaps/namespaces/ns1/c2.json", cmJSON)), limits: ArchiveLimits{MaxEntries: 1}, want: "more than 1 entries"},
		{name: "file too big", contents: valid, limits: ArchiveLimits{MaxFileBytes: 10}, want: "over the limit of 10"},
		{name: "total too big", contents: makeTarball(t, good, file("resources/configmaps/namespaces/ns1/c2.json", cmJSON)), limits: ArchiveLimits{MaxTotalBytes: int64(len(cmJSON)) + 5}, want: "contents over the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			parent := filepath.Join(base, "a", "b")
			if err := os.MkdirAll(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			a, err := extract(context.Background(), bytes.NewReader(tc.contents), parent, tc.limits)
			if err == nil {
				a.Close()
				t.Fatal("extract succeeded")
			}
			if !errors.Is(err, ErrInvalidArchive) {
				t.Errorf("error %v does not wrap ErrInvalidArchive", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			assertEmptyDir(t, parent)
			// Nothing written next to or above the extraction directory.
			for _, p := range []string{filepath.Join(base, "a", "x"), filepath.Join(base, "x"), filepath.Join(base, "a", "b", "x")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s exists", p)
				}
			}
		})
	}
}

func corruptTrailer(gz []byte) []byte {
	out := append([]byte(nil), gz...)
	out[len(out)-8] ^= 0xff // CRC-32 of the gzip trailer
	return out
}

func gzipOf(t *testing.T, data []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

func TestExtractIndex(t *testing.T) {
	plain := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","namespace":"ns1"},"data":{"copy":"plain"}}`)
	pref := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","namespace":"ns1"},"data":{"copy":"preferred"}}`)
	onlyPref := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c2","namespace":"ns1"}}`)
	otherVersion := []byte(`{"apiVersion":"apps/v1beta1","kind":"Deployment","metadata":{"name":"d","namespace":"ns1"}}`)
	long := strings.Repeat("n", 253)
	for _, order := range []string{"plain first", "preferred first"} {
		t.Run(order, func(t *testing.T) {
			entries := []tarEntry{
				{hdr: tar.Header{Name: "resources/", Typeflag: tar.TypeDir, Mode: 0o755}},
				file("metadata/version", []byte("1.1.0\n")),
				file("resources/configmaps/namespaces/ns1/c1.json", plain),
				file("resources/configmaps/v1-preferredversion/namespaces/ns1/c1.json", pref),
				file("resources/configmaps/v1-preferredversion/namespaces/ns1/c2.json", onlyPref),
				file("resources/deployments.apps/v1beta1/namespaces/ns1/d.json", otherVersion),
				file("resources/namespaces/cluster/"+long+".json", []byte(`{}`)),
				file("README", []byte("hello")),
			}
			if order == "preferred first" {
				entries[2], entries[3] = entries[3], entries[2]
			}
			parent := t.TempDir()
			a, err := extract(context.Background(), bytes.NewReader(makeTarball(t, entries...)), parent, ArchiveLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if a.formatVersion != "1.1.0" {
				t.Errorf("format version %q", a.formatVersion)
			}
			if a.total != 3 {
				t.Errorf("total %d, want 3", a.total)
			}
			c1 := a.lookup("configmaps", "ns1", "c1")
			if c1 == nil || c1.copy != format.PlainCopy {
				t.Fatalf("c1 = %+v, want the plain copy", c1)
			}
			data, err := a.read(c1)
			if err != nil || !bytes.Equal(data, plain) {
				t.Errorf("c1 read %q, %v", data, err)
			}
			if c2 := a.lookup("configmaps", "ns1", "c2"); c2 == nil || c2.copy != format.PreferredCopy {
				t.Errorf("c2 = %+v, want the preferred-version copy", c2)
			}
			if a.byResource["deployments.apps"] != nil {
				t.Errorf("a non-preferred version was indexed")
			}
			if a.lookup("namespaces", "", long) == nil {
				t.Errorf("253-character name not indexed")
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			assertEmptyDir(t, parent)
		})
	}
}

func TestExtractCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parent := t.TempDir()
	_, err := extract(ctx, bytes.NewReader(makeTarball(t, file("metadata/version", []byte("1")))), parent, ArchiveLimits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	assertEmptyDir(t, parent)
}

// The restore removes its extraction directory even when a worker panics
// (here: the volume restorer).
func TestRestoreRemovesTempDirOnPanic(t *testing.T) {
	env := newTestEnv(t, Options{VolumeRestorer: panickingRestorer{}})
	pv := obj("v1", "PersistentVolume", "", "pv1", map[string]any{"spec": map[string]any{"persistentVolumeReclaimPolicy": "Delete"}})
	backup := backupWithSnapshots(map[string]string{"pv1": "snap-1"})
	res, _ := env.run(t, newRestore("r1", nil), backup, makeTarball(t, item(t, "persistentvolumes", pv)))
	if res.Failed != 1 || !strings.Contains(strings.Join(res.Results.Errors[""], "\n"), "internal error: boom") {
		t.Fatalf("result %+v", res)
	}
}

// The index is sorted by resource, namespace and name and found by binary
// search: every item is found, absent ones are not, a second entry of the
// same item and copy is a note and the first (in the tarball's order) is the
// one kept.
func TestExtractIndexLookup(t *testing.T) {
	var entries []tarEntry
	var want []string
	// Written in reverse order, so that the index has to sort.
	for _, ns := range []string{"ns-b", "ns-a"} {
		for i := 29; i >= 0; i-- {
			name := fmt.Sprintf("cm-%02d", i)
			entries = append(entries, file("resources/configmaps/namespaces/"+ns+"/"+name+".json", []byte(`{"n":"`+ns+"/"+name+`"}`)))
			want = append(want, "configmaps "+ns+"/"+name)
		}
	}
	entries = append(entries,
		file("resources/namespaces/cluster/ns-a.json", []byte(`{"first":true}`)),
		file("resources/namespaces/cluster/ns-a.json", []byte(`{"second":true}`)),
		file("resources/namespaces/cluster/ns-b.json", []byte(`{}`)),
	)
	a, err := extract(context.Background(), bytes.NewReader(makeTarball(t, entries...)), t.TempDir(), ArchiveLimits{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.total != 62 {
		t.Errorf("total %d, want 62", a.total)
	}
	var got []string
	for _, it := range a.byResource["configmaps"] {
		got = append(got, it.String())
	}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configmaps in the index\n got %v\nwant %v", got, want)
	}
	for _, ns := range []string{"ns-a", "ns-b"} {
		for i := range 30 {
			name := fmt.Sprintf("cm-%02d", i)
			it := a.lookup("configmaps", ns, name)
			if it == nil {
				t.Fatalf("%s/%s not found", ns, name)
			}
			if data, err := a.read(it); err != nil || string(data) != `{"n":"`+ns+"/"+name+`"}` {
				t.Errorf("%s/%s read %q, %v", ns, name, data, err)
			}
		}
	}
	for _, miss := range [][3]string{{"configmaps", "ns-a", "cm-30"}, {"configmaps", "ns-c", "cm-00"}, {"configmaps", "", "cm-00"}, {"secrets", "ns-a", "cm-00"}, {"namespaces", "", "ns-c"}} {
		if it := a.lookup(miss[0], miss[1], miss[2]); it != nil {
			t.Errorf("lookup %v = %v, want nothing", miss, it)
		}
	}
	nsA := a.lookup("namespaces", "", "ns-a")
	if data, err := a.read(nsA); err != nil || string(data) != `{"first":true}` {
		t.Errorf("duplicate entry: kept %q, %v; want the first", data, err)
	}
	if !slices.ContainsFunc(a.notes, func(n string) bool { return strings.Contains(n, "duplicate entry for namespaces ns-a") }) {
		t.Errorf("no note of the duplicate entry: %q", a.notes)
	}
}

// BenchmarkExtract100kIndex extracts 100,000 small items and reports the
// heap the index keeps per item (index-B/item).
func BenchmarkExtract100kIndex(b *testing.B) {
	var entries []tarEntry
	for i := range 100000 {
		entries = append(entries, file(fmt.Sprintf("resources/configmaps/namespaces/s100-%04d/configmap-%02d.json", i/40, i%40), []byte(`{}`)))
	}
	contents := makeTarball(b, entries...)
	entries = nil
	b.ResetTimer()
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		a, err := extract(context.Background(), bytes.NewReader(contents), b.TempDir(), ArchiveLimits{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(a.total), "index-B/item")
		runtime.KeepAlive(a)
		a.Close()
	}
}
