// Package arkserver runs `ark server` in tests the way users run it, and is
// the one way tests start a server:
//
//   - the shipped examples/common/00-prereqs.yaml is applied, rewritten for
//     the test's namespace (RewritePrereqs): the same CRDs, ServiceAccount and
//     RBAC rules, with the ClusterRole and ClusterRoleBinding renamed per
//     namespace so that parallel servers in one cluster do not collide;
//   - the server authenticates with a token of that ServiceAccount (the
//     TokenRequest API) from a kubeconfig that holds nothing else, so it can do
//     exactly what the shipped RBAC allows and no more;
//   - it runs as a separate OS process from the built binary _output/bin/ark
//     (built once per test process by the Makefile's build rule, which is a
//     no-op when the binary is up to date), at default flags except the
//     plumbing a test needs (see Server.Args).
//
// Use:
//
//	ns := testCluster.NewNamespace(t)
//	// ... create the Config "default" in ns (the server refuses to start without one)
//	s := arkserver.Start(t, testCluster, arkserver.Options{Namespace: ns})
//	// s.Stop() (SIGTERM, wait), s.Kill() (SIGKILL, wait), s.Start() (again, same
//	// namespace, bucket and flags), s.Wait(timeout) (exits on its own),
//	// s.WaitControllers(ctx) (holds the lease and runs its controllers),
//	// s.Address() (/metrics, /healthz, /readyz), s.Logs(), s.LogPath().
//
// Two replicas (leader election): New twice with the same Namespace; each
// Server has its own token, process, log and address. The test's cleanup stops
// every running server (SIGTERM, then SIGKILL after StopTimeout), prints the
// tail of its log if the test failed, and deletes the per-namespace
// ClusterRole and ClusterRoleBinding after the last server of the namespace.
// The server processes die with the test process (Pdeathsig), so a test
// binary killed by `go test -timeout` leaves none behind.
//
// Servers and the test's own set-up are separate principals: the test keeps
// the admin kubeconfig (cluster.Cluster.Kubeconfig) for creating fixtures and
// for the ark CLI; only the server runs as the ServiceAccount.
package arkserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heptio/ark/pkg/test/cluster"
)

// Timeouts of the harness (not of the server: it runs at its defaults).
const (
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL: the
	// server's default --shutdown-timeout (30s) plus slack.
	StopTimeout = 45 * time.Second
	// ReadyTimeout bounds Start's wait for /readyz (the server's own cache
	// sync timeout is 2 minutes).
	ReadyTimeout = 2*time.Minute + 10*time.Second
	// logTailLines is how much of the log a failure shows.
	logTailLines = 150
)

// Options configures New and Start.
type Options struct {
	// Namespace the server runs in and watches; it must exist (e.g. from
	// cluster.NewNamespace). Required.
	Namespace string
	// Args are extra flags, after the plumbing ones: only for a test about a
	// flag (e.g. "--leader-elect-lease-duration", "3s"). Default: none.
	Args []string
	// NoWait makes Start return as soon as the process runs, without waiting
	// for /readyz (e.g. a server expected to fail at start).
	NoWait bool
	// Installed says `ark install` already applied the prereqs into Namespace:
	// New only gets a token of the installed ServiceAccount and leaves the
	// RBAC to the test (ark uninstall).
	Installed bool
}

// Server is one `ark server` process (and its restarts) in a namespace.
type Server struct {
	tb         testing.TB
	c          *cluster.Cluster
	opts       Options
	bin        string
	dir        string
	kubeconfig string
	logPath    string
	addr       string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	exitErr error         // of cmd, valid once exited is closed
	logFrom int64         // size of the log when cmd started
	starts  int
}

// Start is New and then Start, failing the test on error.
func Start(tb testing.TB, c *cluster.Cluster, opts Options) *Server {
	tb.Helper()
	s := New(tb, c, opts)
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// New installs the shipped prereqs for opts.Namespace, gets a token of its
// ServiceAccount, writes the kubeconfig and picks a free loopback address,
// but starts nothing. It fails the test on error.
func New(tb testing.TB, c *cluster.Cluster, opts Options) *Server {
	tb.Helper()
	if opts.Namespace == "" {
		tb.Fatal("arkserver: Options.Namespace is required")
	}
	root, err := repoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	bin, err := Binary()
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if !opts.Installed {
		release, err := install(ctx, c, root, opts.Namespace, dir)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(release) // runs after the server's stop below (last in, first out)
	}
	s := &Server{
		tb: tb, c: c, opts: opts, bin: bin, dir: dir,
		kubeconfig: filepath.Join(dir, "kubeconfig"),
		logPath:    filepath.Join(dir, "ark-server.log"),
	}
	if err := WriteKubeconfig(ctx, c, opts.Namespace, ServiceAccount, s.kubeconfig); err != nil {
		tb.Fatal(err)
	}
	if s.addr, err = freeAddress(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.cleanup)
	return s
}

// Args returns the command line of the server (without the binary). Each
// flag is plumbing that a test env needs and a user would not pass:
//   - --kubeconfig: the ServiceAccount's token (a user's server in a pod gets
//     the same identity from its mounted token);
//   - --namespace: the test's namespace instead of heptio-ark;
//   - --metrics-address: a free loopback port instead of :8085 on every
//     interface, so that several servers run at once and nothing listens
//     beyond loopback.
//
// then Options.Args.
func (s *Server) Args() []string {
	return append([]string{"server",
		"--kubeconfig", s.kubeconfig,
		"--namespace", s.opts.Namespace,
		"--metrics-address", s.addr,
	}, s.opts.Args...)
}

// Start starts the server process (first start or restart on the same
// namespace, bucket, token and address) and, unless Options.NoWait, waits
// until /readyz answers 200 (caches synced, bucket reachable). It is an error
// to Start a running server. On error the log's tail is in the error.
func (s *Server) Start() error {
	s.mu.Lock()
	if s.cmd != nil && !isClosed(s.exited) {
		s.mu.Unlock()
		return errors.New("arkserver: Start of a running server")
	}
	s.starts++
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	st, _ := logFile.Stat()
	fmt.Fprintf(logFile, "=== arkserver: start #%d: %s %s\n", s.starts, s.bin, strings.Join(s.Args(), " "))
	cmd := exec.Command(s.bin, s.Args()...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own temporary directory, as a server in its pod has: a server's start
	// removes the restore spools it finds there that no process holds.
	tmp := filepath.Join(s.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		_ = logFile.Close()
		s.mu.Unlock()
		return err
	}
	cmd.Env = append(serverEnv(), "TMPDIR="+tmp)
	// The server must not outlive the test binary (go test -timeout kills it
	// with SIGQUIT and no cleanup runs).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		s.mu.Unlock()
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.exitErr = cmd, exited, nil
	if st != nil {
		s.logFrom = st.Size()
	}
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		s.mu.Lock()
		s.exitErr = err
		s.mu.Unlock()
		close(exited)
	}()
	if s.opts.NoWait {
		return nil
	}
	return s.waitReady(exited)
}

// waitReady polls /readyz until 200, the process exits, or ReadyTimeout.
func (s *Server) waitReady(exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.After(ReadyTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			return fmt.Errorf("ark server in %s exited before it was ready: %v\n%s", s.opts.Namespace, s.exitError(), s.LogTail(logTailLines))
		case <-deadline:
			return fmt.Errorf("ark server in %s not ready within %s\n%s", s.opts.Namespace, ReadyTimeout, s.LogTail(logTailLines))
		case <-tick.C:
			resp, err := client.Get(s.URL("/readyz"))
			if err != nil {
				continue
			}
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
}

// WaitControllers waits until the current process logged that it runs its
// controllers (with leader election, once it holds the lease).
func (s *Server) WaitControllers(ctx context.Context) error {
	s.mu.Lock()
	exited, from := s.exited, s.logFrom
	s.mu.Unlock()
	if exited == nil {
		return errors.New("arkserver: WaitControllers before Start")
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if strings.Contains(s.logsFrom(from), "running controllers") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ark server in %s does not run its controllers: %w\n%s", s.opts.Namespace, ctx.Err(), s.LogTail(logTailLines))
		case <-exited:
			return fmt.Errorf("ark server in %s exited: %v\n%s", s.opts.Namespace, s.exitError(), s.LogTail(logTailLines))
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM and waits for the process to exit, SIGKILLing it after
// StopTimeout. It returns the exit error (nil for exit code 0; an *ExitError
// otherwise, or when it had to be killed). Stopping a stopped server returns
// the error of its last exit.
func (s *Server) Stop() error { return s.signal(syscall.SIGTERM, StopTimeout) }

// Kill sends SIGKILL and waits for the process to exit (a crash, for fault
// tests). It returns nil once the process is gone.
func (s *Server) Kill() error {
	err := s.signal(syscall.SIGKILL, StopTimeout)
	var ee *ExitError
	if errors.As(err, &ee) && ee.Signal == syscall.SIGKILL {
		return nil
	}
	return err
}

func (s *Server) signal(sig syscall.Signal, timeout time.Duration) error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if !isClosed(exited) {
		_ = cmd.Process.Signal(sig)
		select {
		case <-exited:
		case <-time.After(timeout):
			_ = cmd.Process.Kill()
			<-exited
			return &ExitError{Err: fmt.Errorf("ark server did not stop within %s of %v: killed", timeout, sig), Signal: syscall.SIGKILL, Log: s.LogTail(logTailLines)}
		}
	}
	return s.exitError()
}

// Wait waits up to timeout for the process to exit on its own (e.g. on a
// Config change) and returns its exit error, as Stop. It returns an error
// if the process still runs after timeout.
func (s *Server) Wait(timeout time.Duration) error {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited == nil {
		return errors.New("arkserver: Wait before Start")
	}
	select {
	case <-exited:
		return s.exitError()
	case <-time.After(timeout):
		return fmt.Errorf("ark server in %s still runs after %s", s.opts.Namespace, timeout)
	}
}

// ExitErr is the exit error of the last process, as Stop returns it: nil
// while it runs or after exit code 0.
func (s *Server) ExitErr() error {
	if s.Running() {
		return nil
	}
	return s.exitError()
}

// Exited returns a channel closed when the current process exits.
func (s *Server) Exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exited
}

// Running reports whether the current process runs.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil && !isClosed(s.exited)
}

// Pid is the process id of the current process (0 before Start).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Namespace is the server's namespace.
func (s *Server) Namespace() string { return s.opts.Namespace }

// Kubeconfig is the path of the ServiceAccount's kubeconfig.
func (s *Server) Kubeconfig() string { return s.kubeconfig }

// Address is the server's HTTP address (host:port on 127.0.0.1): /metrics,
// /healthz, /readyz, and the filesystem provider's download links.
func (s *Server) Address() string { return s.addr }

// URL is http://Address()+path.
func (s *Server) URL(path string) string { return "http://" + s.addr + path }

// LogPath is the file holding the output of every start of this server,
// each start introduced by a line "=== arkserver: start #N: ...".
func (s *Server) LogPath() string { return s.logPath }

// Logs returns the whole log (every start).
func (s *Server) Logs() string { return s.logsFrom(0) }

// LogTail returns the last n lines of the log.
func (s *Server) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(s.Logs(), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before; whole log: %s)", len(lines)-n, s.logPath)}, lines[len(lines)-n:]...)
	}
	return "--- ark server log (" + s.opts.Namespace + ") ---\n" + strings.Join(lines, "\n")
}

func (s *Server) logsFrom(off int64) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	if off > int64(len(data)) {
		off = 0
	}
	return string(data[off:])
}

// ExitError is how a server process ended other than with exit code 0.
type ExitError struct {
	Err    error          // from exec
	Code   int            // exit code, -1 when killed by a signal
	Signal syscall.Signal // the signal that killed it, if any
	// Message is the error the server printed last ("Error: ..."), if any.
	Message string
	Log     string // tail of the log
}

func (e *ExitError) Error() string {
	msg := "ark server exited: " + e.Err.Error()
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

func (s *Server) exitError() error {
	s.mu.Lock()
	err := s.exitErr
	from := s.logFrom
	s.mu.Unlock()
	if err == nil {
		return nil
	}
	ee := &ExitError{Err: err, Code: -1, Log: s.LogTail(logTailLines)}
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		ee.Code = xe.ExitCode()
		if ws, ok := xe.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ee.Signal = ws.Signal()
		}
	}
	// cobra prints the command's error as "Error: ..." on stderr.
	sc := bufio.NewScanner(strings.NewReader(s.logsFrom(from)))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Error: ") {
			ee.Message = strings.TrimPrefix(sc.Text(), "Error: ")
		}
	}
	return ee
}

// cleanup stops a running server and shows the log if the test failed.
func (s *Server) cleanup() {
	if s.Running() {
		if err := s.Stop(); err != nil {
			var ee *ExitError
			// A test may leave a server that is stopping for a Config change.
			if !errors.As(err, &ee) || !strings.Contains(ee.Message, "Config changed") {
				s.tb.Errorf("stopping ark server in %s: %v", s.opts.Namespace, err)
			}
		}
	}
	if s.tb.Failed() {
		s.tb.Log(s.LogTail(logTailLines))
	}
}

// serverEnv is the test process's environment without what would point the
// server at another identity or namespace than its flags.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KUBECONFIG=") || strings.HasPrefix(kv, "ARK_NAMESPACE=") || strings.HasPrefix(kv, "TMPDIR=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func isClosed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// freeAddress returns a loopback address with a port that was free a moment ago.
func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// repoRoot is the checkout the test runs in.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return cluster.FindRepoRoot(wd)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of _output/bin/ark, first bringing it up to date
// once per test process with the Makefile's build rule (`make build`: the
// same flags as the binary users get; go build relinks only when a source
// changed, so an up-to-date binary costs a second or two). A file lock keeps
// test processes of one checkout from building at once.
func Binary() (string, error) {
	build.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			build.err = err
			return
		}
		bin := filepath.Join(root, "_output", "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			build.err = err
			return
		}
		lock, err := os.OpenFile(filepath.Join(bin, ".ark-build.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			build.err = err
			return
		}
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			build.err = err
			return
		}
		defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
		if _, err := exec.LookPath("make"); err != nil {
			build.err = fmt.Errorf("building _output/bin/ark needs make (the Makefile's build rule): %w", err)
			return
		}
		cmd := exec.Command("make", "--no-print-directory", "-s", "build")
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			build.err = fmt.Errorf("make build: %w\n%s", err, out.String())
			return
		}
		build.path = filepath.Join(bin, "ark")
	})
	return build.path, build.err
}
