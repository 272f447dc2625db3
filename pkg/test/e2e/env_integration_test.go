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
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
	"github.com/heptio/ark/pkg/cmd/ark"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	"github.com/heptio/ark/pkg/test/arkserver"
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
	code := cluster.Main(m, func(ctx context.Context, c *cluster.Cluster) (func(), error) {
		testCluster = c
		return nil, c.ApplyCRDs(ctx, filepath.Join(repoRoot, "config", "crd"))
	})
	printFaultTable(os.Stdout)
	os.Exit(code)
}

// arkEnv is one ark server, in its own namespace with its own bucket. The
// server runs as users run it (pkg/test/arkserver): a separate process from
// _output/bin/ark, as the ServiceAccount of the shipped
// examples/common/00-prereqs.yaml with exactly its RBAC, at default flags.
// The test itself (fixtures, the ark CLI in run/mustRun) keeps the admin
// kubeconfig.
type arkEnv struct {
	t         testing.TB
	cluster   *cluster.Cluster
	namespace string
	bucket    string // the filesystem provider's root; the bucket is the directory "ark" in it
	ark       arkclient.Interface
	server    *arkserver.Server // the server process: Stop, Kill, Start, Logs, Address
	stop      func()            // stops the server (SIGTERM, wait); a failure other than a Config change fails the test
	exited    <-chan struct{}   // closed when the current server process exits
	exitErr   func() error      // the exit error of the last server process (an *arkserver.ExitError)
	httpAddr  string            // the server's --metrics-address
	// exitExpected: the test makes the server exit with an error (it deletes the
	// server's namespace, and with it the lease and the ServiceAccount), so
	// stopping it does not fail the test.
	exitExpected bool
	noWait       bool // startServer does not wait until the server serves
}

type envOptions struct {
	config      func(*arkv1.Config) // changes the default filesystem Config
	args        []string            // extra server flags, only for a test about a flag
	beforeStart func(*arkEnv)       // runs once the namespace and Config exist, before the server starts
	noWait      bool                // start the server without waiting until it is ready (a fault at start-up)
}

// startArk creates a namespace, a Config whose bucket is a temp directory, and
// runs `ark server` in it until the test ends.
func startArk(t testing.TB, c *cluster.Cluster, opts envOptions) *arkEnv {
	t.Helper()
	ctx := context.Background()
	e := &arkEnv{t: t, cluster: c, namespace: c.NewNamespace(t), bucket: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(e.bucket, "ark"), 0o700); err != nil {
		t.Fatal(err)
	}
	e.ark = adminArkClient(t, c)
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
	e.server = arkserver.New(t, c, arkserver.Options{Namespace: e.namespace, Args: opts.args, NoWait: opts.noWait})
	e.noWait = opts.noWait
	e.httpAddr = e.server.Address()
	e.exitErr = e.server.ExitErr
	if opts.beforeStart != nil {
		opts.beforeStart(e)
	}
	e.startServer()
	return e
}

// adminArkClient is the test's typed ark client, as the cluster's admin. It
// records its user as the requester of what it creates, as the CLI does: in
// its default (multi-tenant) mode the server acts as each object's requester
// and refuses objects without one.
func adminArkClient(t testing.TB, c *cluster.Cluster) arkclient.Interface {
	t.Helper()
	cfg := c.RESTConfig()
	if err := authz.RecordRequester(cfg); err != nil {
		t.Fatal(err)
	}
	client, err := arkclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// startServer starts the server process (again, after a stop or an exit on
// its own) and waits until it serves.
func (e *arkEnv) startServer() {
	t := e.t
	t.Helper()
	if err := e.server.Start(); err != nil {
		t.Fatal(err)
	}
	e.exited = e.server.Exited()
	e.stop = func() {
		if err := e.server.Stop(); err != nil {
			// A server that stopped for a Config change did what it should.
			var ee *arkserver.ExitError
			if !e.exitExpected && (!errors.As(err, &ee) || !strings.Contains(ee.Message, "Config changed")) {
				t.Errorf("%v\n%s", err, e.server.LogTail(100))
			}
		}
	}
	if !e.noWait {
		e.waitServing()
	}
}

// kill SIGKILLs the server process (a crash) and waits until it is gone.
func (e *arkEnv) kill() {
	e.t.Helper()
	if err := e.server.Kill(); err != nil {
		e.t.Fatal(err)
	}
}

// waitExit waits for the server to stop on its own (as on a Config change) and
// returns its error (an *arkserver.ExitError whose message is the server's).
func (e *arkEnv) waitExit(timeout time.Duration) error {
	err := e.server.Wait(timeout)
	var ee *arkserver.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatal(err) // still running
	}
	return err
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
	cmd.SetIn(strings.NewReader("")) // no terminal, as when a script runs ark
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

// freeAddress returns a loopback address whose port was free a moment ago.
func freeAddress(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
