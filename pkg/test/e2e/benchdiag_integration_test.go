//go:build integration

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchDiag records, when $ARK_BENCH_DIAG names a directory, what explains a
// benchmark's figures: the server's RSS every second with the phase of the
// run (rss-<name>.csv), the server's log (server-<name>.log) and, with
// ARK_BENCH_PROFILE=1 (which starts the server with --profiling, so not at
// default flags: a diagnosis run, not a figure), a heap profile every 10 s
// and back-to-back 20 s CPU profiles, named by phase and time; with
// ARK_CLUSTER_PROFILING=true too (hack/local-cluster.sh then starts
// kube-apiserver with --profiling), CPU profiles of the kube-apiserver. Without
// $ARK_BENCH_DIAG it does nothing.
type benchDiag struct {
	dir, name string
	pid       int
	url       func(string) string
	logPath   string
	start     time.Time
	mu        sync.Mutex
	phase     string
	lastItems int
	stop      chan struct{}
	wg        sync.WaitGroup
}

// benchDiagArgs are the server flags a diagnosis run needs: --profiling with
// ARK_BENCH_PROFILE=1, and the flags in ARK_BENCH_SERVER_ARGS (space
// separated, e.g. "--single-tenant" to see what acting as the requester
// costs). Both only with $ARK_BENCH_DIAG: a diagnosis, not a figure.
func benchDiagArgs() []string {
	if os.Getenv("ARK_BENCH_DIAG") == "" {
		return nil
	}
	args := strings.Fields(os.Getenv("ARK_BENCH_SERVER_ARGS"))
	if os.Getenv("ARK_BENCH_PROFILE") == "1" {
		args = append(args, "--profiling")
	}
	return args
}

func startBenchDiag(tb testing.TB, e *arkEnv, name string) *benchDiag {
	d := &benchDiag{dir: os.Getenv("ARK_BENCH_DIAG"), name: name, pid: e.server.Pid(), url: e.server.URL,
		logPath: e.server.LogPath(), start: time.Now(), phase: "fill", stop: make(chan struct{})}
	if d.dir == "" {
		return d
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	csv, err := os.Create(filepath.Join(d.dir, "rss-"+name+".csv"))
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintln(csv, "seconds,phase,rss_mib,hwm_mib")
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer csv.Close()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
			}
			hwm, rss := procMemory(tb, d.pid)
			fmt.Fprintf(csv, "%.0f,%s,%.1f,%.1f\n", time.Since(d.start).Seconds(), d.getPhase(), rss, hwm)
		}
	}()
	if os.Getenv("ARK_BENCH_PROFILE") == "1" {
		d.wg.Add(2)
		go func() {
			defer d.wg.Done()
			d.every(10*time.Second, func() { d.fetch("heap", "/debug/pprof/heap") })
		}()
		go func() {
			defer d.wg.Done()
			d.every(0, func() { d.fetch("cpu", "/debug/pprof/profile?seconds=20") })
		}()
		if os.Getenv("ARK_CLUSTER_PROFILING") == "true" {
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				d.every(0, d.fetchAPIServerProfile)
			}()
		}
	}
	return d
}

func (d *benchDiag) getPhase() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.phase
}

// setPhase names what the run does from now on (fill, list, backup, restore, check).
func (d *benchDiag) setPhase(p string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.phase = p
}

func (d *benchDiag) every(interval time.Duration, f func()) {
	for {
		select {
		case <-d.stop:
			return
		case <-time.After(interval):
		}
		f()
	}
}

func (d *benchDiag) fetch(kind, path string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	at := time.Since(d.start).Seconds()
	phase := d.getPhase()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.url(path), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(d.dir, fmt.Sprintf("%s-%s-%05.0f-%s.pprof", kind, d.name, at, phase)))
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// fetchAPIServerProfile takes a 20 s CPU profile of the kube-apiserver (with
// the admin client: set-up's, not the server's), named apiserver-cpu-....
func (d *benchDiag) fetchAPIServerProfile() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	at := time.Since(d.start).Seconds()
	phase := d.getPhase()
	data, err := testCluster.Client().CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "20").DoRaw(ctx)
	if err != nil {
		time.Sleep(20 * time.Second) // not to spin on a cluster that does not profile
		return
	}
	_ = os.WriteFile(filepath.Join(d.dir, fmt.Sprintf("apiserver-cpu-%s-%05.0f-%s.pprof", d.name, at, phase)), data, 0o644)
}

// progress records a restore's progress as the benchmark polls it, in
// progress-<name>.csv: seconds since the start of the run and items done.
func (d *benchDiag) progress(items int) {
	if d.dir == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if items == d.lastItems {
		return
	}
	d.lastItems = items
	f, err := os.OpenFile(filepath.Join(d.dir, "progress-"+d.name+".csv"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%.1f,%d\n", time.Since(d.start).Seconds(), items)
}

// finish stops the recording and keeps the server's log.
func (d *benchDiag) finish() {
	if d.dir == "" {
		return
	}
	close(d.stop)
	d.wg.Wait()
	if data, err := os.ReadFile(d.logPath); err == nil {
		_ = os.WriteFile(filepath.Join(d.dir, "server-"+d.name+".log"), data, 0o644)
	}
}
