//go:build integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cmd/ark"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	"github.com/heptio/ark/pkg/test/cluster"
)

var (
	testCluster *cluster.Cluster
	repoRoot    string
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	root, err := cluster.FindRepoRoot(wd)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = root
	os.Exit(cluster.Main(m, func(ctx context.Context, c *cluster.Cluster) (func(), error) {
		testCluster = c
		return nil, c.ApplyCRDs(ctx, filepath.Join(repoRoot, "config", "crd"))
	}))
}

// arkEnv is one ark server, in its own namespace with its own bucket.
type arkEnv struct {
	t         *testing.T
	cluster   *cluster.Cluster
	namespace string
	bucket    string // the filesystem provider's root; the bucket is the directory "ark" in it
	ark       arkclient.Interface
	stop      func()
	exited    <-chan struct{}
	exitErr   func() error
	httpAddr  string // the server's --metrics-address
}

type envOptions struct {
	config      func(*arkv1.Config) // changes the default filesystem Config
	beforeStart func(*arkEnv)       // runs once the namespace and Config exist, before the server starts
}

// startArk creates a namespace, a Config whose bucket is a temp directory, and
// runs `ark server` in it until the test ends.
func startArk(t *testing.T, c *cluster.Cluster, opts envOptions) *arkEnv {
	t.Helper()
	ctx := context.Background()
	e := &arkEnv{t: t, cluster: c, namespace: c.NewNamespace(t), bucket: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(e.bucket, "ark"), 0o700); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.ark, err = arkclient.NewForConfig(c.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	cfg := &arkv1.Config{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: arkv1.DefaultConfigName},
		BackupStorageProvider: arkv1.ObjectStorageProviderConfig{
			CloudProviderConfig: arkv1.CloudProviderConfig{Name: "filesystem", Config: map[string]string{"root": e.bucket}},
			Bucket:              "ark",
		},
	}
	if opts.config != nil {
		opts.config(cfg)
	}
	if _, err := e.ark.ArkV1().Configs(e.namespace).Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if opts.beforeStart != nil {
		opts.beforeStart(e)
	}
	e.startServer()
	return e
}

// startServer runs `ark server` in this process until the test ends (or stop is called).
func (e *arkEnv) startServer() {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	var exitErr error
	logs := &syncBuffer{}
	e.httpAddr = freeAddress(t)
	go func() {
		defer close(exited)
		cmd := ark.NewCommand()
		cmd.SetArgs([]string{"server", "--kubeconfig", e.cluster.Kubeconfig(), "-n", e.namespace,
			"--metrics-address", e.httpAddr, "--shutdown-timeout", "20s"})
		cmd.SetOut(logs)
		cmd.SetErr(logs)
		exitErr = cmd.ExecuteContext(ctx)
	}()
	e.exited = exited
	e.exitErr = func() error { return exitErr }
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-exited:
				// A server that stopped for a Config change did what it should.
				if exitErr != nil && !errors.Is(exitErr, context.Canceled) && !strings.Contains(exitErr.Error(), "Config changed") {
					t.Errorf("ark server: %v\n%s", exitErr, logs.String())
				}
			case <-time.After(30 * time.Second):
				t.Errorf("ark server did not stop within 30s")
			}
		})
	}
	t.Cleanup(e.stop)
	e.waitServing()
}

// waitExit waits for the server to stop on its own (as on a Config change) and
// returns its error.
func (e *arkEnv) waitExit(timeout time.Duration) error {
	select {
	case <-e.exited:
		return e.exitErr()
	case <-time.After(timeout):
		e.t.Fatalf("ark server did not stop within %s", timeout)
		return nil
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitServing waits until the server answers a download request (its caches
// have synced and its controllers run).
func (e *arkEnv) waitServing() {
	t := e.t
	ctx := context.Background()
	req := &arkv1.DownloadRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, GenerateName: "probe-"},
		Spec:       arkv1.DownloadRequestSpec{Target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Name: "no-such-backup"}},
	}
	created, err := e.ark.ArkV1().DownloadRequests(e.namespace).Create(ctx, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := e.ark.ArkV1().DownloadRequests(e.namespace).Get(ctx, created.Name, metav1.GetOptions{})
		return err == nil && got.Status.Phase != "", nil
	})
	if err != nil {
		t.Fatalf("ark server in %s did not start serving: %v", e.namespace, err)
	}
	_ = e.ark.ArkV1().DownloadRequests(e.namespace).Delete(ctx, created.Name, metav1.DeleteOptions{})
}

// run runs the ark client with args against this env's server and returns its output.
func (e *arkEnv) run(args ...string) (string, error) {
	cmd := ark.NewCommand()
	var out bytes.Buffer
	cmd.SetArgs(append(args, "--kubeconfig", e.cluster.Kubeconfig(), "-n", e.namespace))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// mustRun is run that fails the test on error.
func (e *arkEnv) mustRun(args ...string) string {
	e.t.Helper()
	out, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("ark %v: %v\n%s", args, err, out)
	}
	return out
}

func freeAddress(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
