//go:build integration

package e2e

// The fault-injection suite (`make test-faults`): each TestFault* case breaks
// something real (the ark server process, the object store, the bucket's
// contents) in the middle of the work, then asserts that nothing was lost and
// that the final state is true: a backup that looks Completed is whole, a
// backup cut short is Failed (never Completed with a partial tarball), a
// restore cut short says so and a new one completes the work. TestMain prints
// a table of the cases (fault, runs, survived, data lost).

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/test/arkserver"
	"github.com/heptio/ark/pkg/test/objectstores"
)

// faultRow is one line of the fault table.
type faultRow struct {
	fault    string
	runs     int
	survived int
	lost     int // objects or backups that should exist and do not
}

var faultTable struct {
	mu   sync.Mutex
	rows map[string]*faultRow
}

// fault registers t as one run of a fault case; lost counts what the case
// found missing. The row is written when t ends.
type fault struct {
	t    *testing.T
	mu   sync.Mutex
	lost int
}

func newFault(t *testing.T, name string) *fault {
	f := &fault{t: t}
	t.Cleanup(func() {
		faultTable.mu.Lock()
		defer faultTable.mu.Unlock()
		if faultTable.rows == nil {
			faultTable.rows = map[string]*faultRow{}
		}
		row := faultTable.rows[name]
		if row == nil {
			row = &faultRow{fault: name}
			faultTable.rows[name] = row
		}
		row.runs++
		if !t.Failed() {
			row.survived++
		}
		f.mu.Lock()
		row.lost += f.lost
		f.mu.Unlock()
	})
	return f
}

// lose records n things lost and fails the test.
func (f *fault) lose(n int, format string, args ...any) {
	f.t.Helper()
	f.mu.Lock()
	f.lost += n
	f.mu.Unlock()
	f.t.Errorf("DATA LOST: "+format, args...)
}

// printFaultTable writes the table of the fault cases that ran, if any.
func printFaultTable(w io.Writer) {
	faultTable.mu.Lock()
	defer faultTable.mu.Unlock()
	if len(faultTable.rows) == 0 {
		return
	}
	names := make([]string, 0, len(faultTable.rows))
	for n := range faultTable.rows {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "\nFault-injection suite:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tRUNS\tSURVIVED\tDATA LOST")
	for _, n := range names {
		r := faultTable.rows[n]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", r.fault, r.runs, r.survived, r.lost)
	}
	tw.Flush()
}

// storeProxy is an HTTP reverse proxy in front of an object-store server,
// through which the ark server reaches its bucket: the test stops it (the
// store becomes unreachable: connections refused), starts it again on the
// same address, or holds the requests whose path contains a string (the
// tarball's upload or download) until released, to act mid-transfer.
type storeProxy struct {
	t      *testing.T
	addr   string
	target *url.URL

	mu       sync.Mutex
	srv      *http.Server
	hold     string
	held     chan struct{} // closed when a request is held
	release  chan struct{} // closed to let held requests through
	heldOnce sync.Once
}

func newStoreProxy(t *testing.T, target string) *storeProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &storeProxy{t: t, addr: freeAddress(t), target: u}
	p.start()
	t.Cleanup(p.stop)
	return p
}

// URL is the proxy's endpoint, the s3Url the ark server uses.
func (p *storeProxy) URL() string { return "http://" + p.addr }

func (p *storeProxy) start() {
	p.t.Helper()
	var ln net.Listener
	// The port was just released by stop: retry briefly if the kernel holds it.
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		var err error
		ln, err = net.Listen("tcp", p.addr)
		return err == nil, nil
	})
	if err != nil {
		p.t.Fatalf("store proxy: listening on %s again: %v", p.addr, err)
	}
	rp := httputil.NewSingleHostReverseProxy(p.target)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		hold, held, release := p.hold, p.held, p.release
		p.mu.Unlock()
		if hold != "" && strings.Contains(r.URL.Path, hold) {
			p.heldOnce.Do(func() { close(held) })
			select {
			case <-release:
			case <-r.Context().Done():
				return // the client is gone (killed): nothing reaches the store
			}
		}
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop makes the store unreachable: the listener closes and every open
// connection is cut.
func (p *storeProxy) stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// holdRequests makes requests whose path contains s wait; the returned
// channel closes when the first one arrives.
func (p *storeProxy) holdRequests(s string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold, p.held, p.release, p.heldOnce = s, make(chan struct{}), make(chan struct{}), sync.Once{}
	return p.held
}

// releaseRequests lets held requests through and holds no more.
func (p *storeProxy) releaseRequests() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release != nil {
		close(p.release)
	}
	p.hold, p.release = "", nil
}

// s3Env starts MinIO with a bucket, and a proxy in front of it, and returns
// envOptions for an ark server using that bucket through the proxy.
func s3Env(t *testing.T) (*objectstores.Server, *storeProxy, envOptions) {
	srv := objectstores.StartT(t, objectstores.S3)
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "ark"); err != nil {
		t.Fatal(err)
	}
	// The server process inherits the test's environment (the SDK's default chain).
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	proxy := newStoreProxy(t, srv.Endpoint)
	return srv, proxy, envOptions{config: func(c *arkv1.Config) {
		c.BackupStorageProvider = arkv1.ObjectStorageProviderConfig{
			CloudProviderConfig: arkv1.CloudProviderConfig{Name: "aws", Config: map[string]string{
				"region": srv.Region, "s3Url": proxy.URL(), "s3ForcePathStyle": "true",
			}},
			Bucket: "ark",
		}
	}}
}

// waitBackupPhaseWithin waits until the backup reaches one of the phases and returns it.
func (e *arkEnv) waitBackupPhaseWithin(name string, timeout time.Duration, phases ...arkv1.BackupPhase) *arkv1.Backup {
	e.t.Helper()
	return waitPhase(e, "backup "+name, timeout, func(ctx context.Context) (*arkv1.Backup, arkv1.BackupPhase, error) {
		b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, "", err
		}
		return b, b.Status.Phase, nil
	}, phases...)
}

// waitRestorePhase waits until the restore reaches one of the phases and returns it.
func (e *arkEnv) waitRestorePhase(name string, timeout time.Duration, phases ...arkv1.RestorePhase) *arkv1.Restore {
	e.t.Helper()
	return waitPhase(e, "restore "+name, timeout, func(ctx context.Context) (*arkv1.Restore, arkv1.RestorePhase, error) {
		r, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, "", err
		}
		return r, r.Status.Phase, nil
	}, phases...)
}

// waitPhase polls get until the object's phase is one of phases, and returns the
// object; on timeout it fails the test with the last phase seen and the server's log.
func waitPhase[T any, P ~string](e *arkEnv, what string, timeout time.Duration, get func(context.Context) (T, P, error), phases ...P) T {
	e.t.Helper()
	var got T
	last := P("<none>")
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		obj, phase, err := get(ctx)
		if err != nil {
			return false, nil
		}
		got, last = obj, phase
		return slices.Contains(phases, phase), nil
	})
	if err != nil {
		e.t.Fatalf("%s: phase %s, want one of %v within %s\n%s", what, last, phases, timeout, e.server.LogTail(60))
	}
	return got
}

func (e *arkEnv) createBackup(name string, namespaces ...string) {
	e.t.Helper()
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name}, Spec: arkv1.BackupSpec{IncludedNamespaces: namespaces}}
	if _, err := e.ark.ArkV1().Backups(e.namespace).Create(context.Background(), b, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *arkEnv) createRestore(name, backup string, mapping map[string]string) {
	e.t.Helper()
	r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name}, Spec: arkv1.RestoreSpec{BackupName: backup, NamespaceMapping: mapping}}
	if _, err := e.ark.ArkV1().Restores(e.namespace).Create(context.Background(), r, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// fixture fills a new namespace with n ConfigMaps and returns it.
func fixture(t *testing.T, n int) (string, []string) {
	ns := testCluster.NewNamespace(t)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("cm-%04d", i)
	}
	createConfigMaps(t, testCluster, ns, names...)
	return ns, names
}

// missingConfigMaps counts the ConfigMaps of names that are not in ns.
func missingConfigMaps(t *testing.T, ns string, names []string) int {
	list, err := testCluster.Client().CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, cm := range list.Items {
		have[cm.Name] = true
	}
	missing := 0
	for _, n := range names {
		if !have[n] {
			missing++
		}
	}
	return missing
}

// looksWholeInBucket says whether the S3 bucket holds the backup as whole: its
// ark-backup.json records Completed or PartiallyFailed. The file itself is
// written first, InProgress, to claim the name (and rewritten Failed after a
// failure): only a Completed or PartiallyFailed record may be restored or synced
// as a good backup.
func looksWholeInBucket(t *testing.T, srv *objectstores.Server, backup string) bool {
	t.Helper()
	c := s3.New(s3.Options{
		Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("ark"), Key: aws.String(backup + "/ark-backup.json")})
	var nf *s3types.NoSuchKey
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		t.Fatalf("reading the bucket: %v", err)
	}
	defer out.Body.Close()
	var b arkv1.Backup
	if err := json.NewDecoder(out.Body).Decode(&b); err != nil {
		t.Fatalf("ark-backup.json of %s: %v", backup, err)
	}
	return b.Status.Phase == arkv1.BackupPhaseCompleted || b.Status.Phase == arkv1.BackupPhasePartiallyFailed
}

// The ark server SIGKILLed while a backup's tarball is being uploaded, then
// started again: the backup ends Failed (never Completed, never recorded
// Completed in the bucket), the bucket holds no backup that looks whole,
// and a new backup of the same data completes and restores every object.
func TestFaultServerKilledMidBackup(t *testing.T) {
	f := newFault(t, "ark server SIGKILLed mid-backup (tarball upload in flight), restarted")
	srv, proxy, opts := s3Env(t)
	e := startArk(t, testCluster, opts)
	src, names := fixture(t, 200)

	held := proxy.holdRequests("/cut/cut.tar.gz")
	e.createBackup("cut", src)
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the tarball upload never started\n%s", e.server.LogTail(60))
	}
	e.waitBackupPhaseWithin("cut", time.Minute, arkv1.BackupPhaseInProgress)
	e.kill()
	proxy.releaseRequests()
	e.startServer()

	b := e.waitBackupPhaseWithin("cut", 2*time.Minute, arkv1.BackupPhaseFailed, arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed)
	if b.Status.Phase != arkv1.BackupPhaseFailed || !strings.Contains(b.Status.FailureReason, "server stopped") {
		t.Errorf("interrupted backup: phase %s, reason %q; want Failed saying the server stopped", b.Status.Phase, b.Status.FailureReason)
	}
	if looksWholeInBucket(t, srv, "cut") {
		t.Errorf("the interrupted backup is recorded Completed in the bucket: a partial backup looks whole")
	}

	// The work is done again: a new backup completes, and restores every object.
	e.createBackup("again", src)
	if b := e.waitBackupPhaseWithin("again", 2*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup after the restart: %s %q", b.Status.Phase, b.Status.FailureReason)
	}
	dst := src + "-r"
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dst, time.Minute) })
	e.createRestore("again", "again", map[string]string{src: dst})
	if r := e.waitRestorePhase("again", 2*time.Minute, arkv1.RestorePhaseCompleted, arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation); r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Errorf("restore: %s %q %v", r.Status.Phase, r.Status.FailureReason, r.Status.ValidationErrors)
	}
	if n := missingConfigMaps(t, dst, names); n > 0 {
		f.lose(n, "%d of %d ConfigMaps missing after backup and restore following the crash", n, len(names))
	}
}

// The ark server SIGKILLed while a restore is in progress (its tarball being
// downloaded), then started again: the restore is Failed with a reason that
// says so, and a new restore of the same backup completes the work.
func TestFaultServerKilledMidRestore(t *testing.T) {
	f := newFault(t, "ark server SIGKILLed mid-restore (tarball download in flight), restarted")
	_, proxy, opts := s3Env(t)
	e := startArk(t, testCluster, opts)
	src, names := fixture(t, 200)
	e.createBackup("b", src)
	if b := e.waitBackupPhaseWithin("b", 2*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup: %s %q", b.Status.Phase, b.Status.FailureReason)
	}
	dst := src + "-r"
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dst, time.Minute) })

	held := proxy.holdRequests("/b/b.tar.gz")
	e.createRestore("cut", "b", map[string]string{src: dst})
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the restore never read the tarball\n%s", e.server.LogTail(60))
	}
	e.waitRestorePhase("cut", time.Minute, arkv1.RestorePhaseInProgress)
	e.kill()
	proxy.releaseRequests()
	e.startServer()

	r := e.waitRestorePhase("cut", 2*time.Minute, arkv1.RestorePhaseFailed, arkv1.RestorePhaseCompleted, arkv1.RestorePhasePartiallyFailed)
	if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "server stopped") {
		t.Errorf("interrupted restore: phase %s, reason %q; want Failed saying the server stopped", r.Status.Phase, r.Status.FailureReason)
	}
	e.createRestore("again", "b", map[string]string{src: dst})
	if r := e.waitRestorePhase("again", 2*time.Minute, arkv1.RestorePhaseCompleted, arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation); r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Errorf("restore after the restart: %s %q %v", r.Status.Phase, r.Status.FailureReason, r.Status.ValidationErrors)
	}
	if n := missingConfigMaps(t, dst, names); n > 0 {
		f.lose(n, "%d of %d ConfigMaps missing after the second restore", n, len(names))
	}
}

// The object store stopped while a backup's tarball is being uploaded, and
// started again: the backup ends Failed (the upload broke), nothing in the
// bucket looks whole, and once the store is back a new backup completes.
func TestFaultStoreStoppedMidUpload(t *testing.T) {
	f := newFault(t, "object store stopped mid-upload, started again")
	srv, proxy, opts := s3Env(t)
	e := startArk(t, testCluster, opts)
	src, names := fixture(t, 100)

	held := proxy.holdRequests("/cut/cut.tar.gz")
	e.createBackup("cut", src)
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the tarball upload never started\n%s", e.server.LogTail(60))
	}
	proxy.stop() // cuts the held upload's connection
	proxy.releaseRequests()
	b := e.waitBackupPhaseWithin("cut", 3*time.Minute, arkv1.BackupPhaseFailed, arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed)
	if b.Status.Phase != arkv1.BackupPhaseFailed {
		t.Errorf("backup whose upload broke: phase %s, want Failed", b.Status.Phase)
	}
	proxy.start()
	if looksWholeInBucket(t, srv, "cut") {
		t.Errorf("the broken upload left a backup that looks whole (recorded Completed in the bucket)")
	}
	e.createBackup("again", src)
	if b := e.waitBackupPhaseWithin("again", 2*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup once the store is back: %s %q", b.Status.Phase, b.Status.FailureReason)
	}
	dst := src + "-r"
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dst, time.Minute) })
	e.createRestore("again", "again", map[string]string{src: dst})
	e.waitRestorePhase("again", 2*time.Minute, arkv1.RestorePhaseCompleted)
	if n := missingConfigMaps(t, dst, names); n > 0 {
		f.lose(n, "%d of %d ConfigMaps missing", n, len(names))
	}
}

// The object store unreachable when the server starts: /readyz says so, a
// backup created meanwhile waits (New) instead of failing, and runs once the
// store answers.
func TestFaultStoreUnreachableAtStart(t *testing.T) {
	f := newFault(t, "object store unreachable at server start")
	_, proxy, opts := s3Env(t)
	src, names := fixture(t, 20)
	proxy.stop()
	opts.noWait = true
	e := startArk(t, testCluster, opts)

	// /readyz answers, and says the bucket does not.
	var body string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		resp, err := http.Get(e.server.URL("/readyz"))
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		body = string(data)
		return resp.StatusCode != http.StatusOK && strings.Contains(body, "bucket"), nil
	})
	if err != nil {
		t.Fatalf("/readyz never said the bucket is unreachable (last: %q)\n%s", body, e.server.LogTail(60))
	}
	e.createBackup("waits", src)
	// The controller tries it, finds the bucket silent, and leaves it New.
	err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		return strings.Contains(e.server.Logs(), "the backup waits for it"), nil
	})
	if err != nil {
		t.Fatalf("the server never tried the backup\n%s", e.server.LogTail(60))
	}
	if b, err := e.ark.ArkV1().Backups(e.namespace).Get(context.Background(), "waits", metav1.GetOptions{}); err != nil || (b.Status.Phase != "" && b.Status.Phase != arkv1.BackupPhaseNew) {
		t.Errorf("backup created while the store is unreachable: %v %+v; want it left New", err, b.Status)
	}
	proxy.start()
	if b := e.waitBackupPhaseWithin("waits", 2*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed); b.Status.Phase != arkv1.BackupPhaseCompleted {
		f.lose(1, "the backup created while the store was unreachable ended %s: %q", b.Status.Phase, b.Status.FailureReason)
	}
	err = wait.PollUntilContextTimeout(context.Background(), time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		resp, err := http.Get(e.server.URL("/readyz"))
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Errorf("/readyz not ready once the store answers")
	}
	_ = names
}

// Two replicas with leader election; the leader SIGKILLed while a backup's
// tarball is being uploaded: the standby takes the lease over, marks the
// interrupted backup Failed (nothing in the bucket looks whole), and takes
// the next backup, which restores every object.
func TestFaultLeaderKilledMidBackup(t *testing.T) {
	f := newFault(t, "two replicas, leader SIGKILLed mid-backup")
	ctx := context.Background()
	srv, proxy, opts := s3Env(t)
	e := startArk(t, testCluster, opts)
	if err := e.server.WaitControllers(ctx); err != nil {
		t.Fatal(err)
	}
	standby := arkserver.Start(t, testCluster, arkserver.Options{Namespace: e.namespace})
	src, names := fixture(t, 100)

	held := proxy.holdRequests("/cut/cut.tar.gz")
	e.createBackup("cut", src)
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the tarball upload never started\n%s", e.server.LogTail(60))
	}
	e.waitBackupPhaseWithin("cut", time.Minute, arkv1.BackupPhaseInProgress)
	e.kill()
	proxy.releaseRequests()
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := standby.WaitControllers(waitCtx); err != nil {
		t.Fatalf("the standby did not take over: %v", err)
	}
	b := e.waitBackupPhaseWithin("cut", 2*time.Minute, arkv1.BackupPhaseFailed, arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed)
	if b.Status.Phase != arkv1.BackupPhaseFailed {
		t.Errorf("backup of the killed leader: %s, want Failed", b.Status.Phase)
	}
	if looksWholeInBucket(t, srv, "cut") {
		t.Errorf("the killed leader's backup looks whole in the bucket")
	}
	e.createBackup("again", src)
	if b := e.waitBackupPhaseWithin("again", 2*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup by the new leader: %s %q", b.Status.Phase, b.Status.FailureReason)
	}
	dst := src + "-r"
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dst, time.Minute) })
	e.createRestore("again", "again", map[string]string{src: dst})
	e.waitRestorePhase("again", 2*time.Minute, arkv1.RestorePhaseCompleted)
	if n := missingConfigMaps(t, dst, names); n > 0 {
		f.lose(n, "%d of %d ConfigMaps missing", n, len(names))
	}
	// The killed replica comes back (as its Deployment would start it) as the standby.
	e.startServer()
}

// kube-apiserver restarted while a backup is being uploaded (every watch of
// the server breaks, its status updates fail meanwhile): the backup ends
// Completed and whole (it restores every object) or Failed with a reason,
// never stuck; the server keeps serving and takes the next backup.
func TestFaultAPIServerRestartedMidBackup(t *testing.T) {
	f := newFault(t, "kube-apiserver restarted mid-backup (tarball upload in flight)")
	ctx := context.Background()
	_, proxy, opts := s3Env(t)
	e := startArk(t, testCluster, opts)
	src, names := fixture(t, 100)

	held := proxy.holdRequests("/cut/cut.tar.gz")
	e.createBackup("cut", src)
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the tarball upload never started\n%s", e.server.LogTail(60))
	}
	e.waitBackupPhaseWithin("cut", time.Minute, arkv1.BackupPhaseInProgress)
	if err := testCluster.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	proxy.releaseRequests()
	// A restart longer than the lease's renew deadline (10s) makes the server
	// stop, saying so (it cannot know that no other replica took over); its
	// Deployment starts it again, as here.
	select {
	case <-e.server.Exited():
		var ee *arkserver.ExitError
		if err := e.server.ExitErr(); !errors.As(err, &ee) || !strings.Contains(ee.Message, "lost the leader lease") {
			t.Errorf("the server stopped across the API server restart without saying it lost its lease: %v", err)
		}
		e.startServer()
	case <-time.After(5 * time.Second):
	}
	b := e.waitBackupPhaseWithin("cut", 3*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed)
	switch b.Status.Phase {
	case arkv1.BackupPhaseCompleted:
		dst := src + "-cut"
		t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dst, time.Minute) })
		e.createRestore("from-cut", "cut", map[string]string{src: dst})
		e.waitRestorePhase("from-cut", 2*time.Minute, arkv1.RestorePhaseCompleted)
		if n := missingConfigMaps(t, dst, names); n > 0 {
			f.lose(n, "the backup Completed across the restart lacks %d of %d ConfigMaps", n, len(names))
		}
	case arkv1.BackupPhaseFailed:
		if b.Status.FailureReason == "" {
			t.Errorf("backup Failed without a reason")
		}
	default:
		t.Errorf("backup across the restart: %s", b.Status.Phase)
	}
	if !e.server.Running() {
		t.Fatalf("the server stopped across the API server restart:\n%s", e.server.LogTail(60))
	}
	e.createBackup("after", src)
	if b := e.waitBackupPhaseWithin("after", 2*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("backup after the API server restart: %s %q", b.Status.Phase, b.Status.FailureReason)
	}
}

// tarball builds a gzipped tar of the given entries.
func tarball(t *testing.T, entries map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		data := entries[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A bucket with junk beside a good backup: a folder without ark-backup.json,
// an ark-backup.json that is not JSON, one that names another backup, a
// backup whose tarball is truncated, and one whose tarball has entries
// outside resources/. The server keeps running, imports none of the junk as a
// backup that looks whole, restores of the broken tarballs fail clearly
// without creating anything, and the good backup is imported and restored whole.
func TestFaultJunkInBucket(t *testing.T) {
	f := newFault(t, "bucket with junk (no metadata, bad JSON, wrong name, truncated or escaping tarball)")
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	src, names := fixture(t, 30)
	e.mustRun("backup", "create", "good", "--include-namespaces", src, "--wait")

	// With the server stopped, junk is put beside it, and a whole copy of it
	// under another name (as another cluster's backup would appear): sync
	// runs at start.
	if err := e.server.Stop(); err != nil {
		t.Fatal(err)
	}
	bucket := filepath.Join(e.bucket, "ark")
	goodMeta, err := os.ReadFile(filepath.Join(bucket, "good", "ark-backup.json"))
	if err != nil {
		t.Fatal(err)
	}
	goodTar, err := os.ReadFile(filepath.Join(bucket, "good", "good.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	renamed := func(name string) []byte {
		var m map[string]any
		if err := json.Unmarshal(goodMeta, &m); err != nil {
			t.Fatal(err)
		}
		m["metadata"].(map[string]any)["name"] = name
		data, _ := json.Marshal(m)
		return data
	}
	cm := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"` + src + `"}}`
	files := map[string][]byte{
		"copy/ark-backup.json":        renamed("copy"),
		"copy/copy.tar.gz":            goodTar,
		"nometa/nometa.tar.gz":        goodTar,
		"notjson/ark-backup.json":     []byte("{this is not JSON"),
		"notjson/notjson.tar.gz":      goodTar,
		"othername/ark-backup.json":   renamed("someone-else"),
		"othername/othername.tar.gz":  goodTar,
		"truncated/ark-backup.json":   renamed("truncated"),
		"truncated/truncated.tar.gz":  goodTar[:len(goodTar)/2],
		"escape/ark-backup.json":      renamed("escape"),
		"escape/escape.tar.gz":        tarball(t, map[string]string{"../../escaped.json": cm, "resources/configmaps/namespaces/" + src + "/x.json": cm}),
		"outside/ark-backup.json":     renamed("outside"),
		"outside/outside.tar.gz":      tarball(t, map[string]string{"notresources/configmaps/namespaces/" + src + "/x.json": cm}),
		"emptydir/.keep":              nil,
		"garbage-at-the-top-level.gz": []byte("junk"),
	}
	for name, data := range files {
		p := filepath.Join(bucket, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.startServer()

	// The whole copy is imported from the bucket, Completed.
	var good *arkv1.Backup
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "copy", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		good = b
		return b.Annotations[format.SyncedFromBucketAnnotation] != "" && b.Status.Phase.IsFinal(), nil
	})
	if err != nil || good.Status.Phase != arkv1.BackupPhaseCompleted {
		f.lose(1, "the whole backup among the junk was not imported as Completed: %v %+v", err, good)
	}
	// None of the folders without usable metadata becomes a backup.
	for _, name := range []string{"nometa", "notjson", "othername", "someone-else", "emptydir"} {
		if b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			t.Errorf("junk folder imported as backup %s (%s)", name, b.Status.Phase)
		} else if !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	}
	// Restores of the broken tarballs (whether or not sync imported them:
	// a restore finds a backup in the bucket too) fail, and create nothing.
	for _, name := range []string{"truncated", "escape", "outside"} {
		dst := fmt.Sprintf("%s-%s", src, name)
		e.createRestore("from-"+name, name, map[string]string{src: dst})
		r := e.waitRestorePhase("from-"+name, 2*time.Minute, arkv1.RestorePhaseCompleted, arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation)
		switch {
		case name == "outside" && r.Status.Phase == arkv1.RestorePhaseCompleted:
			// Entries outside resources/ are not items: nothing to restore is a true answer.
		case r.Status.Phase != arkv1.RestorePhaseFailed && r.Status.Phase != arkv1.RestorePhaseFailedValidation:
			t.Errorf("restore of %s: %s, want Failed with a reason", name, r.Status.Phase)
		case r.Status.FailureReason == "" && len(r.Status.ValidationErrors) == 0:
			t.Errorf("restore of %s failed without a reason", name)
		}
		list, err := testCluster.Client().CoreV1().ConfigMaps(dst).List(ctx, metav1.ListOptions{})
		if err == nil && len(list.Items) > 0 {
			t.Errorf("restore of the broken backup %s created %d ConfigMaps in %s", name, len(list.Items), dst)
		}
		if _, err := os.Stat(filepath.Join(e.bucket, "escaped.json")); err == nil {
			t.Errorf("a tarball entry escaped its directory")
		}
	}
	// The imported copy restores whole, and the server still runs.
	dst := src + "-good"
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dst, time.Minute) })
	e.createRestore("from-good", "copy", map[string]string{src: dst})
	if r := e.waitRestorePhase("from-good", 2*time.Minute, arkv1.RestorePhaseCompleted, arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation); r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Errorf("restore of the good backup: %s %q %v", r.Status.Phase, r.Status.FailureReason, r.Status.ValidationErrors)
	}
	if n := missingConfigMaps(t, dst, names); n > 0 {
		f.lose(n, "%d of %d ConfigMaps of the good backup missing", n, len(names))
	}
	if !e.server.Running() {
		t.Errorf("the server stopped:\n%s", e.server.LogTail(60))
	}
}
