package restore

import (
	"archive/tar"
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/heptio/ark/pkg/format"
)

// ArchiveLimits bound what the extraction of a backup tarball accepts. A
// tarball over any limit is rejected as a whole. Zero fields take the
// defaults below.
type ArchiveLimits struct {
	// MaxEntries is the number of tar entries (of any type). Default 1,000,000.
	MaxEntries int64
	// MaxTotalBytes is the sum of the declared sizes of all entries, i.e. the
	// uncompressed size of the archive's contents. Default 10 GiB.
	MaxTotalBytes int64
	// MaxFileBytes is the size of one entry. Default 64 MiB: an object the
	// API server accepts is far smaller (etcd's request limit is 1.5 MiB).
	MaxFileBytes int64
	// MaxPathLength is the length of an entry's name. Default 4096.
	MaxPathLength int
}

// Default limits of ArchiveLimits.
const (
	DefaultMaxEntries    = 1_000_000
	DefaultMaxTotalBytes = 10 << 30
	DefaultMaxFileBytes  = 64 << 20
	DefaultMaxPathLength = 4096
)

func (l ArchiveLimits) withDefaults() ArchiveLimits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxPathLength <= 0 {
		l.MaxPathLength = DefaultMaxPathLength
	}
	return l
}

// ErrInvalidArchive is wrapped by every error that rejects a tarball: corrupt
// gzip or tar data, a forbidden entry (absolute path, "..", link, device,
// fifo) or a limit exceeded.
var ErrInvalidArchive = errors.New("invalid backup archive")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArchive, fmt.Sprintf(format, args...))
}

// Which copy of an item is restored: Velero 1.x tarballs (format 1.1.0) hold
// each item twice, in the plain directory and in <version>-preferredversion/,
// with the same bytes (both are the source cluster's preferred version). The
// plain copy (format.PlainCopy) is the one restored: it is in every format
// (ark's "1", Velero's 1.0 and 1.1.0) and is what ark's own backups write, so
// one rule reads them all. The preferred-version copy is used only for an item
// that has no plain copy; other version directories (Velero's
// EnableAPIGroupVersions) are ignored.

// archiveItem is one item of the backup as indexed by extraction.
type archiveItem struct {
	// resource is the name of the item's resource directory: the group-resource
	// of the source cluster ("deployments.apps", "configmaps").
	resource string
	// namespace is the item's namespace in the backup, "" if cluster-scoped.
	namespace string
	name      string
	// offset and size locate the item's bytes in the spool file.
	offset int64
	size   int64
	copy   format.Copy
}

// compareItems orders items by resource, namespace, name and copy (the plain
// copy first): the order of the index.
func compareItems(a, b *archiveItem) int {
	if c := compareNames(a, b); c != 0 {
		return c
	}
	return cmp.Compare(a.copy, b.copy)
}

// compareNames orders items by resource, namespace and name.
func compareNames(a, b *archiveItem) int {
	if c := strings.Compare(a.resource, b.resource); c != 0 {
		return c
	}
	if c := strings.Compare(a.namespace, b.namespace); c != 0 {
		return c
	}
	return strings.Compare(a.name, b.name)
}

func (it *archiveItem) String() string {
	if it.namespace == "" {
		return it.resource + " " + it.name
	}
	return it.resource + " " + it.namespace + "/" + it.name
}

// archive is an extracted backup tarball.
//
// Extraction never uses an entry's name as a file-system path: the items are
// appended to one spool file (items.spool, created through an os.Root
// confined to a fresh temporary directory) and indexed in memory by offset;
// the entry names are only parsed into (resource, namespace, name). Names are
// still validated strictly, since a tarball with "../x", an absolute path or a
// link in it is corrupt or tampered with and is rejected as a whole. One
// spool file rather than a file per item: creating 10,000 small files cost
// about a second per thousand on a busy disk, and no object name (up to 253
// characters) can hit the file system's 255-byte name limit.
type archive struct {
	dir   string
	root  *os.Root
	spool *os.File

	formatVersion string
	// byResource holds the items to restore, one copy each, sorted by
	// namespace and name. The index is one slice of item values, sorted (see
	// compareItems), and byResource holds its parts: no map entry and no
	// allocation per item beyond its name, so that a restore of 100,000
	// items keeps about 10 MB of index (a map of pointers took 25 MB).
	byResource map[string][]archiveItem
	total      int
	// notes are things worth logging: ignored entries, duplicates.
	notes []string
}

// Close removes the extraction directory.
func (a *archive) Close() error {
	if a == nil {
		return nil
	}
	var err error
	if a.spool != nil {
		err = a.spool.Close()
	}
	if a.root != nil {
		if cerr := a.root.Close(); err == nil {
			err = cerr
		}
	}
	if rerr := os.RemoveAll(a.dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// read returns the contents of it. It is safe for concurrent use.
func (a *archive) read(it *archiveItem) ([]byte, error) {
	buf := make([]byte, it.size)
	if _, err := a.spool.ReadAt(buf, it.offset); err != nil {
		return nil, err
	}
	return buf, nil
}

// lookup returns the item of resource directory resource, or nil.
func (a *archive) lookup(resource, namespace, name string) *archiveItem {
	items := a.byResource[resource]
	key := archiveItem{resource: resource, namespace: namespace, name: name}
	i, found := slices.BinarySearchFunc(items, &key, func(it archiveItem, k *archiveItem) int { return compareNames(&it, k) })
	if !found {
		return nil
	}
	return &items[i]
}

// resources returns the resource directories holding items, sorted.
// namespaces returns the namespaces the backup holds: those of its
// namespaced items and its Namespace objects.
func (a *archive) namespaces() map[string]bool {
	out := map[string]bool{}
	for resource, items := range a.byResource {
		for i := range items {
			it := &items[i]
			if it.namespace != "" {
				out[it.namespace] = true
			}
			if resource == "namespaces" && it.namespace == "" {
				out[it.name] = true
			}
		}
	}
	return out
}

func (a *archive) resources() []string {
	out := make([]string, 0, len(a.byResource))
	for r := range a.byResource {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// extract reads the gzipped tarball r into a new temporary directory under
// tmpParent ("" for the system default). On error nothing is left behind.
func extract(ctx context.Context, r io.Reader, tmpParent string, limits ArchiveLimits) (_ *archive, err error) {
	limits = limits.withDefaults()
	dir, err := os.MkdirTemp(tmpParent, spoolDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating extraction directory: %w", err)
	}
	a := &archive{dir: dir, byResource: map[string][]archiveItem{}}
	// all the items extracted, with duplicates (dropped once sorted).
	var all []archiveItem
	interned := map[string]string{}
	intern := func(s string) string {
		if v, ok := interned[s]; ok {
			return v
		}
		s = strings.Clone(s)
		interned[s] = s
		return s
	}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	if a.root, err = os.OpenRoot(dir); err != nil {
		return nil, fmt.Errorf("opening extraction directory: %w", err)
	}
	if a.spool, err = a.root.OpenFile(spoolName, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
		return nil, fmt.Errorf("creating the spool file: %w", err)
	}
	lockSpool(a.spool)
	spool := bufio.NewWriterSize(a.spool, 1<<20)
	// Items are copied into spool through one buffer and spool's Write: an
	// io.Copy into spool would hand each item to the file's ReadFrom, whose
	// generic copy allocates 32 KiB and writes the file once per item (3 GB
	// of garbage and 100,000 writes for 100,000 items).
	spoolWriter := struct{ io.Writer }{spool}
	copyBuf := make([]byte, 32<<10)
	var spoolSize int64

	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, invalid("not gzip data: %v", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)

	var entries, total int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, invalid("reading tar entry %d: %v", entries+1, err)
		}
		entries++
		if entries > limits.MaxEntries {
			return nil, invalid("more than %d entries", limits.MaxEntries)
		}
		name, err := checkEntryName(hdr.Name, limits.MaxPathLength)
		if err != nil {
			return nil, err
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		case tar.TypeSymlink:
			return nil, invalid("entry %q is a symbolic link (to %q)", name, hdr.Linkname)
		case tar.TypeLink:
			return nil, invalid("entry %q is a hard link (to %q)", name, hdr.Linkname)
		case tar.TypeChar, tar.TypeBlock:
			return nil, invalid("entry %q is a device", name)
		case tar.TypeFifo:
			return nil, invalid("entry %q is a fifo", name)
		default:
			return nil, invalid("entry %q has unsupported type %q", name, string(rune(hdr.Typeflag)))
		}
		if hdr.Size < 0 || hdr.Size > limits.MaxFileBytes {
			return nil, invalid("entry %q is %d bytes, over the limit of %d", name, hdr.Size, limits.MaxFileBytes)
		}
		total += hdr.Size
		if total > limits.MaxTotalBytes {
			return nil, invalid("contents over the limit of %d bytes", limits.MaxTotalBytes)
		}

		if name == format.MetadataVersionPath {
			b, err := io.ReadAll(io.LimitReader(tr, 256))
			if err != nil {
				return nil, invalid("reading %s: %v", name, err)
			}
			a.formatVersion = strings.TrimSpace(string(b))
			continue
		}
		e, ok, note := format.ParseItemPath(name)
		if note != "" {
			a.notes = append(a.notes, note)
		}
		// Another version's copy is never restored (and no note per entry: an
		// API-group-versions backup has many).
		if !ok || e.Copy == format.OtherVersionCopy {
			continue // the reader skips the entry's data
		}
		// The item keeps copies of its own: the entry's name (and the header
		// it came in) can then be freed, and the resource and namespace,
		// shared by many items, are stored once.
		it := archiveItem{resource: intern(e.Resource), namespace: intern(e.Namespace), name: strings.Clone(e.Name), copy: e.Copy}
		src := &readErrTagger{r: io.LimitReader(tr, hdr.Size)}
		n, err := io.CopyBuffer(spoolWriter, src, copyBuf)
		if err != nil {
			if src.err != nil {
				return nil, invalid("reading entry %q: %v", name, err)
			}
			return nil, fmt.Errorf("extracting entry %q: %w", name, err)
		}
		if n != hdr.Size {
			return nil, invalid("entry %q is truncated (%d of %d bytes)", name, n, hdr.Size)
		}
		it.offset = spoolSize
		spoolSize += n
		it.size = n
		all = append(all, it)
	}
	if err := spool.Flush(); err != nil {
		return nil, fmt.Errorf("writing the spool file: %w", err)
	}
	// The end-of-archive marker is not the end of the gzip stream: read the
	// rest (tar padding) so that a checksum error or trailing garbage shows.
	if n, err := io.Copy(io.Discard, io.LimitReader(gz, 1<<20)); err != nil {
		return nil, invalid("after the last tar entry: %v", err)
	} else if n == 1<<20 {
		return nil, invalid("more than 1 MiB of data after the end of the tar archive")
	}

	a.index(all)
	return a, nil
}

// index sorts the extracted items and keeps one copy of each: the plain
// copy, or the preferred-version copy of an item that has no plain one; a
// second entry of the same copy is a note. byResource then holds the parts of
// the sorted slice.
func (a *archive) index(all []archiveItem) {
	// Equal items in the order of the tarball: the first entry of a copy wins.
	slices.SortFunc(all, func(x, y archiveItem) int {
		if c := compareItems(&x, &y); c != 0 {
			return c
		}
		return cmp.Compare(x.offset, y.offset)
	})
	kept := all[:0]
	for i := range all {
		it := all[i]
		if n := len(kept); n > 0 {
			prev := &kept[n-1]
			if compareNames(prev, &it) == 0 {
				if prev.copy == it.copy {
					a.notes = append(a.notes, fmt.Sprintf("duplicate entry for %s ignored", it.String()))
				}
				continue
			}
		}
		kept = append(kept, it)
	}
	clear(all[len(kept):]) // no strings kept alive beyond the index
	for start := 0; start < len(kept); {
		end := start + 1
		for end < len(kept) && kept[end].resource == kept[start].resource {
			end++
		}
		a.byResource[kept[start].resource] = kept[start:end:end]
		start = end
	}
	a.total = len(kept)
}

// readErrTagger remembers the error of its reader, to tell a corrupt archive
// from a failing disk.
type readErrTagger struct {
	r   io.Reader
	err error
}

func (t *readErrTagger) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// checkEntryName validates a tar entry name and returns it without a leading
// "./" and trailing "/".
func checkEntryName(raw string, maxLen int) (string, error) {
	if len(raw) > maxLen {
		return "", invalid("entry name longer than %d bytes", maxLen)
	}
	if strings.ContainsRune(raw, 0) {
		return "", invalid("entry name %q contains a NUL byte", raw)
	}
	name := strings.TrimPrefix(raw, "./")
	name = strings.TrimSuffix(name, "/")
	if name == "" {
		return "", invalid("empty entry name %q", raw)
	}
	if strings.HasPrefix(name, "/") || strings.HasPrefix(raw, "/") {
		return "", invalid("entry %q has an absolute path", raw)
	}
	for _, part := range strings.Split(name, "/") {
		switch part {
		case "..":
			return "", invalid("entry %q leaves the archive's directory (..)", raw)
		case "", ".":
			return "", invalid("entry name %q is not clean", raw)
		}
	}
	if strings.Contains(name, `\`) {
		return "", invalid("entry name %q contains a backslash", raw)
	}
	if !filepath.IsLocal(name) {
		return "", invalid("entry %q is not a local path", raw)
	}
	return name, nil
}
