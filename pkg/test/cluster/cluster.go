// Package cluster starts a local Kubernetes control plane (etcd,
// kube-apiserver and kube-controller-manager on 127.0.0.1, no nodes) for
// ark's integration tests, through hack/local-cluster.sh.
//
// Use one cluster per test binary, from TestMain, through Main:
//
//	var testCluster *cluster.Cluster
//
//	func TestMain(m *testing.M) {
//		os.Exit(cluster.Main(m, func(ctx context.Context, c *cluster.Cluster) (func(), error) {
//			testCluster = c
//			return nil, nil
//		}))
//	}
//
// If a test panics or the binary is killed (e.g. by `go test -timeout`), the
// deferred Stop does not run; the cluster is still torn down because Start
// asks the script to watch this process and run `down` when it exits.
//
// Set ARK_TEST_KUBECONFIG to a kubeconfig path to run the tests against an
// already running cluster instead (e.g. one started with
// `eval "$(hack/local-cluster.sh up)"`); Stop then leaves it alone.
//
// The first Start on a machine builds kube-apiserver and
// kube-controller-manager (about 10 minutes on 2 cores), longer than the
// default `go test` timeout: build them first with `hack/local-cluster.sh build`.
package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

const (
	// EnvKubeconfig names a kubeconfig of an existing cluster to reuse.
	EnvKubeconfig = "ARK_TEST_KUBECONFIG"
	// EnvKeepLogs, if "1", keeps the state dir's logs/ after Stop.
	EnvKeepLogs = "ARK_TEST_KEEP_CLUSTER_LOGS"

	mainModule = "github.com/heptio/ark"
	scriptPath = "hack/local-cluster.sh"
)

// Options configures Start. The zero value is fine.
type Options struct {
	// RepoRoot is the checkout holding hack/local-cluster.sh. Default: the
	// nearest parent of the working directory whose go.mod declares
	// module github.com/heptio/ark.
	RepoRoot string
	// StateDir is the cluster's state dir (pid files, certs, etcd data,
	// logs). Default: a new temporary dir under <RepoRoot>/_output/.
	StateDir string
	// KeepLogs keeps <StateDir>/logs after Stop (also set by
	// ARK_TEST_KEEP_CLUSTER_LOGS=1).
	KeepLogs bool
	// Timeout bounds `up` (default 5 minutes). Building stale binaries
	// first is bounded separately (30 minutes; see the package doc).
	Timeout time.Duration
}

// Cluster is a running control plane.
type Cluster struct {
	kubeconfig string
	config     *rest.Config
	repoRoot   string
	stateDir   string
	owned      bool // started by us, so Stop tears it down
	keepLogs   bool

	kube   kubernetes.Interface
	dyn    dynamic.Interface
	apiext apiextensionsclient.Interface

	stopOnce sync.Once
	stopErr  error
}

// Start reuses the cluster named by ARK_TEST_KUBECONFIG, or starts a new one
// with hack/local-cluster.sh in its own state dir.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	logger := klog.FromContext(ctx)
	if kc := os.Getenv(EnvKubeconfig); kc != "" {
		logger.Info("Reusing cluster", "kubeconfig", kc)
		c := &Cluster{kubeconfig: kc}
		if err := c.connect(); err != nil {
			return nil, fmt.Errorf("%s=%s: %w", EnvKubeconfig, kc, err)
		}
		return c, nil
	}

	root := opts.RepoRoot
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		if root, err = FindRepoRoot(wd); err != nil {
			return nil, err
		}
	}
	stateDir := opts.StateDir
	if stateDir == "" {
		out := filepath.Join(root, "_output")
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, err
		}
		var err error
		if stateDir, err = os.MkdirTemp(out, "test-cluster-"); err != nil {
			return nil, err
		}
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	c := &Cluster{
		kubeconfig: filepath.Join(stateDir, "kubeconfig"),
		repoRoot:   root,
		stateDir:   stateDir,
		owned:      true,
		keepLogs:   opts.KeepLogs || os.Getenv(EnvKeepLogs) == "1",
	}

	start := time.Now()
	// A separate step with its own, longer timeout: a cold build of the
	// binaries takes about 10 minutes (a no-op when they are up to date).
	buildCtx, cancelBuild := context.WithTimeout(ctx, 30*time.Minute)
	_, err := c.script(buildCtx, "build")
	cancelBuild()
	if err != nil {
		return nil, fmt.Errorf("building the control plane binaries: %w", err)
	}
	upCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = c.script(upCtx, "up")
	if err == nil {
		err = c.connect()
	}
	if err != nil {
		err = fmt.Errorf("starting local cluster in %s: %w%s", stateDir, err, c.logTails())
		// Never leave a half-started cluster behind.
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	logger.Info("Local cluster up", "kubeconfig", c.kubeconfig, "host", c.config.Host, "elapsed", time.Since(start).Round(time.Millisecond))
	return c, nil
}

// Stop tears down a cluster started by Start and removes its state dir
// (except logs/ with KeepLogs). It does nothing for a reused cluster. It is
// safe to call more than once.
func (c *Cluster) Stop() error {
	if !c.owned {
		return nil
	}
	c.stopOnce.Do(func() {
		// Not bound to a caller's context: teardown must run to the end.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, c.stopErr = c.script(ctx, "down")
	})
	return c.stopErr
}

// RestartAPIServer stops kube-apiserver and starts it again on the same port
// and etcd, and waits until it is ready: every watch breaks and requests fail
// meanwhile (a fault for tests).
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	if _, err := c.script(ctx, "restart-apiserver"); err != nil {
		return fmt.Errorf("restarting kube-apiserver: %w", err)
	}
	return nil
}

// Kubeconfig returns the path of a kubeconfig for the cluster (admin token).
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// StateDir returns the state dir ("" for a reused cluster).
func (c *Cluster) StateDir() string { return c.stateDir }

// RESTConfig returns a copy of the admin client config. Client-side rate
// limiting is effectively off (the local apiserver is fast and tests create
// many objects).
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Client returns a typed clientset.
func (c *Cluster) Client() kubernetes.Interface { return c.kube }

// Dynamic returns a dynamic client.
func (c *Cluster) Dynamic() dynamic.Interface { return c.dyn }

// APIExtensions returns an apiextensions clientset (CRDs).
func (c *Cluster) APIExtensions() apiextensionsclient.Interface { return c.apiext }

func (c *Cluster) connect() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS = 10000
	cfg.Burst = 20000
	cfg.UserAgent = "ark-test-cluster"
	c.config = cfg
	if c.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	if c.apiext, err = apiextensionsclient.NewForConfig(cfg); err != nil {
		return err
	}
	if _, err := c.kube.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("reaching the apiserver: %w", err)
	}
	return nil
}

// script runs hack/local-cluster.sh with the cluster's state dir, logging its
// progress lines, and returns its stdout.
func (c *Cluster) script(ctx context.Context, args ...string) (string, error) {
	logger := klog.FromContext(ctx).WithValues("script", scriptPath, "args", args)
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(c.repoRoot, scriptPath)}, args...)...)
	cmd.Dir = c.repoRoot
	cmd.Env = append(os.Environ(),
		"ARK_LOCAL_CLUSTER_DIR="+c.stateDir,
		// The script's watcher runs `down` once this process is gone.
		"ARK_LOCAL_CLUSTER_OWNER_PID="+strconv.Itoa(os.Getpid()),
	)
	if c.keepLogs {
		cmd.Env = append(cmd.Env, "ARK_LOCAL_CLUSTER_KEEP_LOGS=1")
	}
	// If ctx ends, bash is killed; Start then runs `down`, which cleans up
	// whatever was started. Daemons never hold our pipes (they log to files),
	// so this only bounds a stuck pipe.
	cmd.WaitDelay = 10 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	done := make(chan struct{})
	var stderrTail []string
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "build") {
				// A (long) build of the binaries is worth showing.
				logger.Info(sc.Text())
			} else {
				logger.V(1).Info(sc.Text())
			}
			stderrTail = append(stderrTail, sc.Text())
			if len(stderrTail) > 20 {
				stderrTail = stderrTail[1:]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	_ = pw.Close()
	<-done
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", scriptPath, strings.Join(args, " "), err, strings.Join(stderrTail, "\n"))
	}
	return stdout.String(), nil
}

// logTails returns the last lines of each component log, for errors.
func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		data, err := os.ReadFile(filepath.Join(c.stateDir, "logs", name+".log"))
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "\n--- %s.log (tail) ---\n%s", name, strings.Join(lines, "\n"))
	}
	return b.String()
}

// FindRepoRoot walks up from dir to the directory whose go.mod declares the
// module github.com/heptio/ark (nested tool modules are skipped).
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && modulePath(data) == mainModule {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of module %s above %s", mainModule, dir)
		}
	}
}

func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}
