//go:build integration

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider/filesystem"
	"github.com/heptio/ark/pkg/persistence"
)

// BenchmarkQuietServer is the cost of a server with nothing to do: 1,000
// Completed Backups (each with its ark-backup.json in the bucket, so that the
// sync finds nothing to import or remove) and 100 Schedules whose next tick is
// months away, created directly. Once the server settled (caches synced, the
// start-up sync done, ARK_BENCH_QUIET_SETTLE seconds, default 15), it is
// watched for ARK_BENCH_QUIET_SECONDS (default 60): CPU seconds (utime+stime
// of /proc/<pid>/stat), RSS, and the requests the API server counted for
// ark's group (apiserver_request_total, group ark.heptio.com): none is
// expected, the informers' watches being open already.
func BenchmarkQuietServer(b *testing.B) {
	const nBackups, nSchedules = 1000, 100
	settle := time.Duration(envInt("ARK_BENCH_QUIET_SETTLE", 15)) * time.Second
	window := time.Duration(envInt("ARK_BENCH_QUIET_SECONDS", 60)) * time.Second
	for range b.N {
		ctx := context.Background()
		var e *arkEnv
		e = startArk(b, testCluster, envOptions{beforeStart: func(env *arkEnv) {
			fillQuiet(ctx, b, env, nBackups, nSchedules)
		}})
		if err := e.server.WaitControllers(ctx); err != nil {
			b.Fatal(err)
		}
		time.Sleep(settle)
		pid := e.server.Pid()
		cpu0 := procCPU(b, pid)
		req0 := arkRequests(ctx, b)
		time.Sleep(window)
		cpu := procCPU(b, pid) - cpu0
		reqs := arkRequests(ctx, b) - req0
		hwm, rss := procMemory(b, pid)
		n, err := e.ark.ArkV1().Backups(e.namespace).List(ctx, metav1.ListOptions{})
		if err != nil || len(n.Items) != nBackups {
			b.Fatalf("%v backups after the window (%v), want %d: the server changed them", len(n.Items), err, nBackups)
		}
		b.ReportMetric(cpu, "cpu-s")
		b.ReportMetric(cpu/window.Seconds()*100, "cpu-%")
		b.ReportMetric(rss, "RSS-MiB")
		b.ReportMetric(hwm, "peak-RSS-MiB")
		b.ReportMetric(reqs, "ark-API-requests")
		b.Logf("quiet server over %v: %.2f CPU s, RSS %.1f MiB (peak %.1f), %v requests of ark's group", window, cpu, rss, hwm, reqs)
		benchLine(b, fmt.Sprintf("| quiet server: %s Backups, %d Schedules, %.0f s | (nothing to do) | - | %.2f CPU s, %.0f requests of ark's group | - | - | %.0f (now %.0f) |",
			fmtCount(nBackups), nSchedules, window.Seconds(), cpu, reqs, hwm, rss))
	}
}

// fillQuiet creates the Backups (Completed, expiring in a year, metadata in
// the bucket) and the Schedules (yearly, last backup now) of BenchmarkQuietServer.
func fillQuiet(ctx context.Context, tb testing.TB, e *arkEnv, nBackups, nSchedules int) {
	fs, err := filesystem.New(filesystem.Options{Root: e.bucket})
	if err != nil {
		tb.Fatal(err)
	}
	store, err := persistence.NewBackupStore(fs, "ark", "")
	if err != nil {
		tb.Fatal(err)
	}
	now := metav1.Now()
	expires := metav1.NewTime(now.Add(365 * 24 * time.Hour))
	jobs := make([]func(context.Context) error, 0, nBackups+nSchedules)
	for i := range nBackups {
		name := fmt.Sprintf("quiet-%04d", i)
		jobs = append(jobs, func(ctx context.Context) error {
			bk := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name},
				Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"app"}}}
			got, err := e.ark.ArkV1().Backups(e.namespace).Create(ctx, bk, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			got.Status = arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted, Version: 1, StartTimestamp: &now, CompletionTimestamp: &now, Expiration: &expires,
				Progress: &arkv1.BackupProgress{TotalItems: 10, ItemsBackedUp: 10}}
			got, err = e.ark.ArkV1().Backups(e.namespace).UpdateStatus(ctx, got, metav1.UpdateOptions{})
			if err != nil {
				return err
			}
			return store.PutBackupMetadata(ctx, got)
		})
	}
	for i := range nSchedules {
		name := fmt.Sprintf("quiet-%03d", i)
		jobs = append(jobs, func(ctx context.Context) error {
			s := &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name},
				Spec: arkv1.ScheduleSpec{Schedule: "0 3 1 1 *", Template: arkv1.BackupSpec{IncludedNamespaces: []string{"app"}}}}
			got, err := e.ark.ArkV1().Schedules(e.namespace).Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			got.Status = arkv1.ScheduleStatus{Phase: arkv1.SchedulePhaseEnabled, LastBackup: &now}
			_, err = e.ark.ArkV1().Schedules(e.namespace).UpdateStatus(ctx, got, metav1.UpdateOptions{})
			return err
		})
	}
	if err := runPool(ctx, jobs); err != nil {
		tb.Fatal(err)
	}
}

// procCPU is the CPU time of a process so far (user + system), in seconds.
func procCPU(tb testing.TB, pid int) float64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		tb.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64) // field 14 of proc(5)
	stime, _ := strconv.ParseFloat(f[12], 64) // field 15
	return (utime + stime) / 100              // USER_HZ, 100 on Linux
}

// arkRequests sums the API server's apiserver_request_total for ark's group.
func arkRequests(ctx context.Context, tb testing.TB) float64 {
	raw, err := testCluster.Client().CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	total := 0.0
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `group="`+arkv1.GroupName+`"`) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			total += v
		}
	}
	return total
}
