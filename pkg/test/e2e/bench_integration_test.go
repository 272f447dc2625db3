//go:build integration

package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/test/cluster"
)

// benchObjects is the size of BenchmarkServer: 10,000 ConfigMaps of about
// 1 KB in one namespace (a size of issue 17); ARK_BENCH_OBJECTS overrides it.
// BenchmarkScale has 10,000 and 100,000 objects of several kinds.
var benchObjects = envInt("ARK_BENCH_OBJECTS", 10000)

// benchWorkers is the raw client's parallelism: 16 goroutines, as the
// server's default --restore-item-workers.
const benchWorkers = 16

// BenchmarkServer is the headline figure of ark's speed as users run it: the
// server (a separate process, as the shipped ServiceAccount, at default
// flags) handling a Backup and a Restore object of 10,000 ~1 KB ConfigMaps,
// each against a raw client-go loop doing the same work in the same run:
//
//   - backup: a Backup of the namespace, from creation to Completed (lists,
//     tarball into the filesystem bucket, metadata), against a paged list of
//     the same objects (500 a page, the server's --page-size), the medians
//     of backupPairs pairs;
//   - restore: a Restore of that backup into a new namespace, from creation
//     to Completed, against creating the same objects with 16 goroutines.
//
// raw/server is the server's share of the raw rate (1 = as fast as raw).
func BenchmarkServer(b *testing.B) {
	ctx := context.Background()
	e := startArk(b, testCluster, envOptions{args: benchDiagArgs()})
	diag := startBenchDiag(b, e, "server")
	defer diag.finish()
	src := testCluster.NewNamespace(b)
	cms := benchConfigMaps(benchObjects)
	start := time.Now()
	createConfigMapsRaw(b, testCluster, src, cms)
	b.Logf("filled %s with %d configmaps in %v", src, len(cms), time.Since(start).Round(time.Millisecond))
	// The backup the restores read, made once.
	if d, err := serverBackup(ctx, e, "source", src); err != nil {
		b.Fatal(err)
	} else {
		b.Logf("first backup in %v", d.Round(time.Millisecond))
	}

	b.Run(fmt.Sprintf("backup-%dk", benchObjects/1000), func(b *testing.B) {
		diag.setPhase("backup")
		// A list of 10,000 ConfigMaps takes 0.2 to 0.4 s: one pair of timings
		// is mostly the noise of a shared machine, so the row gives the medians
		// of backupPairs pairs (raw list, then backup) per op.
		var raw, server []time.Duration
		for i := range b.N {
			for j := range backupPairs {
				t0 := time.Now()
				if n := listRaw(b, testCluster, src); n < benchObjects {
					b.Fatalf("raw list saw %d configmaps", n)
				}
				rawD := time.Since(t0)
				d, err := serverBackup(ctx, e, fmt.Sprintf("bench-%d-%d-%d", b.N, i, j), src)
				if err != nil {
					b.Fatal(err)
				}
				raw, server = append(raw, rawD), append(server, d)
				b.Logf("backup %d.%d: raw list %v, ark %v", i, j, rawD.Round(time.Millisecond), d.Round(time.Millisecond))
			}
		}
		medRaw, medServer := median(raw), median(server)
		reportRatio(b, medServer*time.Duration(b.N), medRaw*time.Duration(b.N))
		hwm, _ := procMemory(b, e.server.Pid())
		benchRow(b, fmt.Sprintf("backup %s ConfigMaps (1 namespace), median of %d", fmtCount(benchObjects), len(raw)), "paged list", medRaw, medServer, "≥ 0.50", hwm)
	})

	b.Run(fmt.Sprintf("restore-%dk", benchObjects/1000), func(b *testing.B) {
		diag.setPhase("restore")
		var raw, server time.Duration
		for i := range b.N {
			rawNS := fmt.Sprintf("%s-raw-%d-%d", src, b.N, i)
			dstNS := fmt.Sprintf("%s-dst-%d-%d", src, b.N, i)
			runRaw := func() {
				if _, err := testCluster.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
					Name: rawNS, Labels: map[string]string{cluster.TestNamespaceLabel: "true"},
				}}, metav1.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				createConfigMapsRaw(b, testCluster, rawNS, cms)
				raw += time.Since(t0)
			}
			runServer := func() {
				d, err := serverRestore(ctx, e, fmt.Sprintf("bench-%d-%d", b.N, i), "source", src, dstNS, benchObjects)
				if err != nil {
					b.Fatal(err)
				}
				server += d
			}
			// Alternate which goes first: the second one runs on a bigger etcd.
			if i%2 == 0 {
				runRaw()
				runServer()
			} else {
				runServer()
				runRaw()
			}
			b.StopTimer()
			for _, ns := range []string{rawNS, dstNS} {
				dctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
				if err := testCluster.DeleteNamespaceAndWait(dctx, ns, 10*time.Minute); err != nil {
					b.Errorf("deleting %s: %v", ns, err)
				}
				cancel()
			}
			b.StartTimer()
		}
		reportRatio(b, server, raw)
		hwm, _ := procMemory(b, e.server.Pid())
		benchRow(b, fmt.Sprintf("restore %s ConfigMaps (1 namespace)", fmtCount(benchObjects)), "16-worker create", raw/time.Duration(b.N), server/time.Duration(b.N), "≥ 0.60", hwm)
	})
}

// envInt reads a positive integer from the environment, or returns def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// backupPairs is how many (raw list, backup) pairs BenchmarkServer's backup
// row takes the medians of.
const backupPairs = 5

// median returns the median of ds (the mean of the middle two for an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func reportRatio(b *testing.B, server, raw time.Duration) {
	b.ReportMetric(server.Seconds()/float64(b.N), "server-s/op")
	b.ReportMetric(raw.Seconds()/float64(b.N), "raw-s/op")
	b.ReportMetric(raw.Seconds()/server.Seconds(), "raw/server")
	b.ReportMetric(float64(benchObjects)*float64(b.N)/server.Seconds(), "objects/s")
}

func benchConfigMaps(n int) []*corev1.ConfigMap {
	value := strings.Repeat("x", 900)
	cms := make([]*corev1.ConfigMap, n)
	for i := range cms {
		cms[i] = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%05d", i), Labels: map[string]string{"app": "bench"}},
			Data:       map[string]string{"value": value},
		}
	}
	return cms
}

// createConfigMapsRaw creates the ConfigMaps in ns with benchWorkers
// goroutines and the admin client (no client-side rate limit).
func createConfigMapsRaw(b testing.TB, c *cluster.Cluster, ns string, cms []*corev1.ConfigMap) {
	jobs := make(chan *corev1.ConfigMap)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cm := range jobs {
				if _, err := c.Client().CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	for _, cm := range cms {
		jobs <- cm
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

// listRaw pages through the ConfigMaps of ns and counts them.
func listRaw(b testing.TB, c *cluster.Cluster, ns string) int {
	n := 0
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := c.Client().CoreV1().ConfigMaps(ns).List(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		n += len(l.Items)
		if l.Continue == "" {
			return n
		}
		opts.Continue = l.Continue
	}
}

// serverBackup creates a Backup of ns and waits until the server completed it.
func serverBackup(ctx context.Context, e *arkEnv, name, ns string) (time.Duration, error) {
	bk := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{ns}}}
	t0 := time.Now()
	if _, err := e.ark.ArkV1().Backups(e.namespace).Create(ctx, bk, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	err := watchUntilTyped(ctx, dynamic.NewForConfigOrDie(e.cluster.RESTConfig()), arkv1.SchemeGroupVersion.WithResource("backups"), e.namespace, name, 30*time.Minute,
		func(got *arkv1.Backup) (bool, error) {
			switch got.Status.Phase {
			case arkv1.BackupPhaseCompleted:
				return true, nil
			case arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailedValidation:
				return false, fmt.Errorf("backup %s: %s %+v", name, got.Status.Phase, got.Status)
			}
			return false, nil
		})
	return time.Since(t0), err
}

// serverRestore creates a Restore of backup, namespace from mapped to to, and
// waits until the server completed it with no error and at least want items.
func serverRestore(ctx context.Context, e *arkEnv, name, backup, from, to string, want int) (time.Duration, error) {
	r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name}, Spec: arkv1.RestoreSpec{
		BackupName: backup, NamespaceMapping: map[string]string{from: to},
	}}
	t0 := time.Now()
	if _, err := e.ark.ArkV1().Restores(e.namespace).Create(ctx, r, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	var got *arkv1.Restore
	err := watchUntilTyped(ctx, dynamic.NewForConfigOrDie(e.cluster.RESTConfig()), arkv1.SchemeGroupVersion.WithResource("restores"), e.namespace, name, 30*time.Minute,
		func(r *arkv1.Restore) (bool, error) {
			got = r
			switch got.Status.Phase {
			case arkv1.RestorePhaseCompleted:
				return true, nil
			case arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation:
				return false, fmt.Errorf("restore %s: %s %+v", name, got.Status.Phase, got.Status)
			}
			return false, nil
		})
	d := time.Since(t0)
	if err == nil && (got.Status.Errors != 0 || got.Status.Progress == nil || got.Status.Progress.ItemsRestored < want) {
		err = fmt.Errorf("restore %s: %+v", name, got.Status)
	}
	return d, err
}

// benchRow appends one row to the table `make bench` prints at the end (the
// file named by $ARK_BENCH_REPORT; nothing when it is unset): the work, what
// the raw client-go loop did, the raw and ark times in seconds, raw/ark (the
// server's share of the raw rate: 1 = as fast as raw) and the server's peak
// RSS in MiB, with the goal of the ratio.
func benchRow(tb testing.TB, work, raw string, rawD, arkD time.Duration, goal string, peakMiB float64) {
	benchLine(tb, fmt.Sprintf("| %s | %s | %.2f | %.2f | %.2f | %s | %.0f |", work, raw, rawD.Seconds(), arkD.Seconds(), rawD.Seconds()/arkD.Seconds(), goal, peakMiB))
}

// benchLine appends one line to $ARK_BENCH_REPORT.
func benchLine(tb testing.TB, line string) {
	p := os.Getenv("ARK_BENCH_REPORT")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Errorf("bench report: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		tb.Errorf("bench report: %v", err)
	}
}

// toUnstructured converts a typed object to an unstructured map.
func toUnstructured(obj any) (map[string]any, error) {
	return runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
}
