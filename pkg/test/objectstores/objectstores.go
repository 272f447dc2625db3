// Package objectstores starts the local object-store servers that integration tests run
// against: MinIO (or versitygw) for S3, fake-gcs-server for GCS and Azurite for Azure Blob,
// as installed by hack/object-stores.sh into _output/objectstores; and, beside them, the AWS
// KMS emulator local-kms (kind KMS) for pkg/encryption/kms.
//
// If the ARK_TEST_<KIND>_* variables printed by `hack/object-stores.sh start` are set, the
// running server is reused instead (and not stopped). Typical use, in a TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(objectstores.Main(m, objectstores.S3)) }
//
// or per test: srv := objectstores.StartT(t, objectstores.GCS).
package objectstores

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Kind is a kind of object-store server.
type Kind string

// Kinds of servers.
const (
	S3    Kind = "s3"
	GCS   Kind = "gcs"
	Azure Kind = "azure"
	// KMS is not an object store: nsmithuk/local-kms, an AWS KMS emulator speaking KMS's
	// JSON protocol, bound to loopback by hack/tools/localkms. It starts with no keys.
	KMS Kind = "kms"
)

// AzuriteAccount and AzuriteKey are Azurite's documented development account: public
// constants, not secrets.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Server is a running object-store server.
type Server struct {
	Kind Kind
	// Endpoint: S3, GCS and KMS, http://127.0.0.1:PORT; Azure, http://127.0.0.1:PORT/devstoreaccount1.
	Endpoint string
	// S3 only.
	Region, AccessKey, SecretKey string
	// Azure only.
	Account, AccountKey string
	// Reused is true when the server came from the environment; Stop leaves it running.
	Reused bool
	// Impl names the program: minio, versitygw, fake-gcs-server, azurite, localkms.
	Impl string

	cmd     *exec.Cmd
	dir     string
	stopped sync.Once
	stopErr error
	waitErr chan error
}

// Env returns the ARK_TEST_* variables describing s (what `hack/object-stores.sh env` prints).
func (s *Server) Env() map[string]string {
	switch s.Kind {
	case S3:
		return map[string]string{"ARK_TEST_S3_ENDPOINT": s.Endpoint, "ARK_TEST_S3_REGION": s.Region,
			"ARK_TEST_S3_ACCESS_KEY": s.AccessKey, "ARK_TEST_S3_SECRET_KEY": s.SecretKey}
	case GCS:
		return map[string]string{"ARK_TEST_GCS_ENDPOINT": s.Endpoint}
	case Azure:
		return map[string]string{"ARK_TEST_AZURE_ENDPOINT": s.Endpoint,
			"ARK_TEST_AZURE_ACCOUNT": s.Account, "ARK_TEST_AZURE_KEY": s.AccountKey}
	case KMS:
		return map[string]string{"ARK_TEST_KMS_ENDPOINT": s.Endpoint}
	}
	return nil
}

// FromEnv returns the server of kind described by the ARK_TEST_* variables, if set.
func FromEnv(kind Kind) (*Server, bool) {
	switch kind {
	case S3:
		if e := os.Getenv("ARK_TEST_S3_ENDPOINT"); e != "" {
			return &Server{Kind: S3, Endpoint: e, Region: envOr("ARK_TEST_S3_REGION", "us-east-1"),
				AccessKey: os.Getenv("ARK_TEST_S3_ACCESS_KEY"), SecretKey: os.Getenv("ARK_TEST_S3_SECRET_KEY"),
				Reused: true, Impl: "external"}, true
		}
	case GCS:
		if e := os.Getenv("ARK_TEST_GCS_ENDPOINT"); e != "" {
			return &Server{Kind: GCS, Endpoint: e, Reused: true, Impl: "external"}, true
		}
	case Azure:
		if e := os.Getenv("ARK_TEST_AZURE_ENDPOINT"); e != "" {
			return &Server{Kind: Azure, Endpoint: e, Account: envOr("ARK_TEST_AZURE_ACCOUNT", AzuriteAccount),
				AccountKey: envOr("ARK_TEST_AZURE_KEY", AzuriteKey), Reused: true, Impl: "external"}, true
		}
	case KMS:
		if e := os.Getenv("ARK_TEST_KMS_ENDPOINT"); e != "" {
			return &Server{Kind: KMS, Endpoint: e, Reused: true, Impl: "external"}, true
		}
	}
	return nil, false
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// repoRoot finds the checkout holding hack/object-stores.sh, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "object-stores.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("objectstores: hack/object-stores.sh not found above the working directory")
		}
		dir = parent
	}
}

// cacheDir is where hack/object-stores.sh installs the servers.
func cacheDir(root string) string {
	if d := os.Getenv("ARK_OBJECTSTORES_CACHE"); d != "" {
		return d
	}
	return filepath.Join(root, "_output", "objectstores")
}

// install runs `hack/object-stores.sh install kind` (a no-op when cached).
func install(ctx context.Context, root string, kind Kind) error {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "object-stores.sh"), "install", string(kind))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("objectstores: hack/object-stores.sh install %s: %w", kind, err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	f, err := os.Open("/dev/urandom")
	if err == nil {
		_, _ = f.Read(b)
		f.Close()
	}
	return fmt.Sprintf("%x", b)
}

// Start returns a server of kind: the one described by the environment if any, else a new
// one on a free loopback port with a fresh data directory. Call Stop when done.
func Start(ctx context.Context, kind Kind) (*Server, error) {
	if s, ok := FromEnv(kind); ok {
		return s, nil
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	if err := install(ctx, root, kind); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // a free port can be taken between choosing and binding it
		s, err := start(ctx, cacheDir(root), kind)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, cache string, kind Kind) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	removeStaleDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-%s-", dirPrefix, os.Getpid(), kind))
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(cache, "bin")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &Server{Kind: kind, dir: dir, Endpoint: "http://" + addr}
	var cmd *exec.Cmd
	var readyURL string
	readyStatus := func(code int) bool { return code == http.StatusOK }
	switch kind {
	case S3:
		s.Region, s.AccessKey, s.SecretKey = "us-east-1", "ark-"+randomHex(4), randomHex(24)
		if _, err := os.Stat(filepath.Join(bin, "minio")); err == nil && os.Getenv("ARK_S3_SERVER") != "versitygw" {
			console, err := freePort()
			if err != nil {
				return nil, err
			}
			s.Impl = "minio"
			cmd = exec.Command(filepath.Join(bin, "minio"), "server", filepath.Join(dir, "data"),
				"--address", addr, "--console-address", "127.0.0.1:"+strconv.Itoa(console), "--quiet")
			cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey, "MINIO_BROWSER=off")
			readyURL = s.Endpoint + "/minio/health/ready"
		} else {
			s.Impl = "versitygw"
			if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
				return nil, err
			}
			cmd = exec.Command(filepath.Join(bin, "versitygw"), "--port", addr, "posix", filepath.Join(dir, "data"))
			cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
			readyURL = s.Endpoint + "/"
			readyStatus = func(int) bool { return true }
		}
	case GCS:
		s.Impl = "fake-gcs-server"
		cmd = exec.Command(filepath.Join(bin, "fake-gcs-server"), "-scheme", "http", "-host", "127.0.0.1",
			"-port", strconv.Itoa(port), "-backend", "memory", "-external-url", s.Endpoint,
			"-public-host", addr, "-log-level", "error")
		readyURL = s.Endpoint + "/storage/v1/b"
	case Azure:
		s.Impl = "azurite"
		s.Account, s.AccountKey = AzuriteAccount, AzuriteKey
		s.Endpoint += "/" + AzuriteAccount
		cmd = exec.Command("node", filepath.Join(cache, "azurite", "node_modules", "azurite", "dist", "src", "blob", "main.js"),
			"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", filepath.Join(dir, "data"),
			"--skipApiVersionCheck", "--silent")
		readyURL = s.Endpoint + "?comp=list"
		readyStatus = func(int) bool { return true } // any answer: it listens
	case KMS:
		s.Impl = "localkms"
		cmd = exec.Command(filepath.Join(bin, "localkms"), "-listen", addr, "-data", filepath.Join(dir, "data"))
		readyURL = s.Endpoint + "/"
		readyStatus = func(int) bool { return true } // 405 to a GET: it listens
	default:
		return nil, fmt.Errorf("objectstores: unknown kind %q", kind)
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group, so Stop reaches children; SIGKILL if this process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("objectstores: starting %s: %w", s.Impl, err)
	}
	s.cmd = cmd
	s.waitErr = make(chan error, 1)
	go func() { s.waitErr <- cmd.Wait() }()
	if err := s.waitReady(ctx, readyURL, readyStatus); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		_ = s.Stop()
		return nil, fmt.Errorf("objectstores: %s on %s: %w; its log:\n%s", s.Impl, addr, err, log)
	}
	return s, nil
}

// dirPrefix starts the names of the servers' data directories, followed by the pid of the
// test process that owns them.
const dirPrefix = "ark-objectstore-"

// removeStaleDirs removes the data directories of test processes that died without Stop
// (their servers died with them: Pdeathsig).
func removeStaleDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), dirPrefix)
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(m)
		}
	}
}

func (s *Server) waitReady(ctx context.Context, url string, ok func(int) bool) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.waitErr:
			s.waitErr <- err
			return fmt.Errorf("exited during start: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("not ready after 60s")
}

// Stop stops a server that Start started (SIGTERM to its process group, SIGKILL after 10s)
// and removes its data. It does nothing for a reused server. Safe to call more than once.
func (s *Server) Stop() error {
	if s == nil || s.cmd == nil {
		return nil
	}
	s.stopped.Do(func() {
		pgid := s.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.waitErr:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.waitErr
			s.stopErr = fmt.Errorf("objectstores: %s ignored SIGTERM for 10s and was killed", s.Impl)
		}
		// Children that outlived the leader.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		_ = os.RemoveAll(s.dir)
	})
	return s.stopErr
}

// Pid returns the process id of a server Start started, 0 for a reused one.
func (s *Server) Pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// StartT starts a server for one test and stops it in t.Cleanup; it fails the test if the
// server cannot start.
func StartT(t testing.TB, kind Kind) *Server {
	t.Helper()
	s, err := Start(context.Background(), kind)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A store slow to exit (Azurite keeps open connections under load)
		// is killed: that says nothing of what the test checked.
		if err := s.Stop(); err != nil {
			t.Log(err)
		}
	})
	return s
}

// Servers holds the servers Main started, by kind, for the tests to use.
var Servers = map[Kind]*Server{}

// Main starts the servers of kinds, runs the tests, and stops the servers even when a start
// fails, a test panics, or the process gets SIGINT/SIGTERM. It returns the exit code.
func Main(m *testing.M, kinds ...Kind) (code int) {
	var started []*Server
	stopAll := func() {
		for _, s := range started {
			if err := s.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}
	}
	defer stopAll()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			stopAll()
			os.Exit(130)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, k := range kinds {
		s, err := Start(ctx, k)
		if err != nil {
			fmt.Fprintf(os.Stderr, "starting %s server: %v\n", k, err)
			return 1
		}
		started = append(started, s)
		Servers[k] = s
	}
	return m.Run()
}
