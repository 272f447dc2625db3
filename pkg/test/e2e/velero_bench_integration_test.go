//go:build integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/test/arkserver"
	"github.com/heptio/ark/pkg/test/cluster"
	"github.com/heptio/ark/pkg/test/objectstores"
)

// veleroVersion and veleroPluginImage are what hack/velero.sh builds (keep
// them in step with its VELERO_VERSION and PLUGIN_VERSION): the image only
// names the plugin in `velero install`'s manifest, nothing is pulled.
const (
	veleroVersion     = "v1.18.1"
	veleroPluginImage = "velero/velero-plugin-for-aws:v1.14.3"
)

// BenchmarkVelero runs ark and Velero v1.18.1 (with velero-plugin-for-aws,
// built from the Go module proxy by hack/velero.sh: `make bench-velero`) side
// by side in one run, on the same local control plane and the same MinIO, each
// as users run it: a separate process at its default flags, as its
// ServiceAccount (ark: the shipped RBAC; Velero: cluster-admin, bound as
// `velero install` binds it), its bucket on MinIO. It is skipped when
// _output/velero holds no build, so `make test` and `make bench` never build
// or run Velero.
//
// In one namespace, 10,000 ~1 KB ConfigMaps (ARK_BENCH_OBJECTS):
//   - raw create with 16 goroutines (this fills the namespace), against an
//     ark restore and a Velero restore of it, each into a new namespace
//     (namespace mapping), from the Restore's creation to Completed, each
//     checked to have restored every ConfigMap (in this order: the Velero
//     restore runs on an etcd that holds one more copy);
//   - a raw paged list (500 a page), against an ark backup and a Velero
//     backup of the namespace, from the Backup's creation to Completed;
//   - each server's peak RSS (VmHWM). Velero runs its item actions and the
//     object store in plugin processes that it starts for each backup and
//     restore (the velero binary's own run-plugins and velero-plugin-for-aws):
//     the sum of their peaks, sampled during the operation, is given beside
//     the server's.
func BenchmarkVelero(b *testing.B) {
	build := veleroBuild(b)
	ctx := context.Background()
	srv := objectstores.StartT(b, objectstores.S3)
	if err := srv.CreateBucket(ctx, "ark"); err != nil {
		b.Fatal(err)
	}
	// ark's server takes the store's credentials from the SDK's default
	// chain (its environment); Velero's from its credentials file.
	b.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	b.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	e := startArk(b, testCluster, envOptions{config: func(c *arkv1.Config) {
		c.BackupStorageProvider = arkv1.ObjectStorageProviderConfig{
			CloudProviderConfig: arkv1.CloudProviderConfig{Name: "aws", Config: map[string]string{
				"region": srv.Region, "s3Url": srv.Endpoint, "s3ForcePathStyle": "true",
			}},
			Bucket: "ark",
		}
	}})
	v := startVelero(b, testCluster, srv, build)
	cms := benchConfigMaps(benchObjects)
	count := fmtCount(benchObjects)

	for i := range b.N {
		name := fmt.Sprintf("bench-%d-%d", b.N, i)
		src := testCluster.NewNamespace(b)
		t0 := time.Now()
		createConfigMapsRaw(b, testCluster, src, cms)
		rawCreate := time.Since(t0)
		t0 = time.Now()
		if n := listRaw(b, testCluster, src); n < benchObjects {
			b.Fatalf("raw list saw %d configmaps", n)
		}
		rawList := time.Since(t0)

		arkBackup, err := serverBackup(ctx, e, name, src)
		if err != nil {
			b.Fatal(err)
		}
		veleroBackup, backupPlugins, err := v.backup(ctx, name, src)
		if err != nil {
			b.Fatal(err)
		}

		arkDst, veleroDst := src+"-ark", src+"-velero"
		b.Cleanup(func() { deleteNamespaces(testCluster, arkDst, veleroDst) })
		arkRestore, err := serverRestore(ctx, e, name, name, src, arkDst, benchObjects)
		if err != nil {
			b.Fatal(err)
		}
		if n := pagedList(ctx, b, testCluster.Dynamic().Resource(configMapsGVR), "app=bench,"+format.RestoreNameLabel+"="+name); n != benchObjects {
			b.Fatalf("ark restore %s: %d configmaps restored into %s, want %d", name, n, arkDst, benchObjects)
		}
		veleroRestore, restorePlugins, err := v.restore(ctx, name, name, src, veleroDst)
		if err != nil {
			b.Fatal(err)
		}
		if n := pagedList(ctx, b, testCluster.Dynamic().Resource(configMapsGVR), "app=bench,velero.io/restore-name="+name); n != benchObjects {
			b.Fatalf("Velero restore %s: %d configmaps restored into %s, want %d", name, n, veleroDst, benchObjects)
		}

		arkHWM, _ := procMemory(b, e.server.Pid())
		veleroHWM, _ := procMemory(b, v.pid())
		b.ReportMetric(rawCreate.Seconds(), "raw-create-s")
		b.ReportMetric(arkRestore.Seconds(), "ark-restore-s")
		b.ReportMetric(veleroRestore.Seconds(), "velero-restore-s")
		b.ReportMetric(rawList.Seconds(), "raw-list-s")
		b.ReportMetric(arkBackup.Seconds(), "ark-backup-s")
		b.ReportMetric(veleroBackup.Seconds(), "velero-backup-s")
		b.ReportMetric(arkHWM, "ark-peak-RSS-MiB")
		b.ReportMetric(veleroHWM, "velero-peak-RSS-MiB")
		b.ReportMetric(max(backupPlugins.total, restorePlugins.total), "velero-plugins-peak-RSS-MiB")
		b.Logf("raw create %v, ark restore %v, Velero restore %v (plugins: %s)", rawCreate.Round(time.Millisecond),
			arkRestore.Round(time.Millisecond), veleroRestore.Round(time.Millisecond), restorePlugins)
		b.Logf("raw list %v, ark backup %v, Velero backup %v (plugins: %s)", rawList.Round(time.Millisecond),
			arkBackup.Round(time.Millisecond), veleroBackup.Round(time.Millisecond), backupPlugins)
		b.Logf("peak RSS: ark server %.0f MiB, velero server %.0f MiB", arkHWM, veleroHWM)

		work := func(op string) string { return fmt.Sprintf("%s %s ConfigMaps (1 namespace), MinIO", op, count) }
		veleroRow := func(op, raw string, rawD, d, arkD time.Duration, plugins pluginPeak) {
			benchLine(b, fmt.Sprintf("| %s: Velero %s | %s | %.2f | %.2f | %.2f | - (ark %.1fx as fast) | %.0f + %.0f summed over the %d plugin processes it started |",
				work(op), veleroVersion, raw, rawD.Seconds(), d.Seconds(), rawD.Seconds()/d.Seconds(), d.Seconds()/arkD.Seconds(), veleroHWM, plugins.total, len(plugins.procs)))
		}
		benchRow(b, work("backup")+": ark", "paged list", rawList, arkBackup, "≥ 0.50", arkHWM)
		veleroRow("backup", "paged list", rawList, veleroBackup, arkBackup, backupPlugins)
		benchRow(b, work("restore")+": ark", "16-worker create", rawCreate, arkRestore, "≥ 0.60", arkHWM)
		veleroRow("restore", "16-worker create", rawCreate, veleroRestore, arkRestore, restorePlugins)
	}
}

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// deleteNamespaces deletes namespaces without waiting (the cluster goes away
// with the test process).
func deleteNamespaces(c *cluster.Cluster, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ns := range names {
		_ = c.Client().CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	}
}

// veleroBinaries is the build of hack/velero.sh.
type veleroBinaries struct {
	velero    string // bin/velero
	pluginDir string // plugins/, holding velero-plugin-for-aws
}

// veleroBuild returns the build in _output/velero ($VELERO_CACHE), or skips
// the benchmark when there is none.
func veleroBuild(tb testing.TB) veleroBinaries {
	dir := os.Getenv("VELERO_CACHE")
	if dir == "" {
		dir = filepath.Join(repoRoot, "_output", "velero")
	}
	v := veleroBinaries{velero: filepath.Join(dir, "bin", "velero"), pluginDir: filepath.Join(dir, "plugins")}
	for _, f := range []string{v.velero, filepath.Join(v.pluginDir, "velero-plugin-for-aws")} {
		if _, err := os.Stat(f); err != nil {
			tb.Skipf("Velero is not built (%v): `make bench-velero` builds it from the Go module proxy (hack/velero.sh install) and runs this", err)
		}
	}
	return v
}

// veleroServer is one `velero server` process, run as users run Velero but
// out of the cluster (see startVelero).
type veleroServer struct {
	tb        testing.TB
	namespace string
	dyn       dynamic.Interface // the admin's
	cmd       *exec.Cmd
	exited    chan struct{}
	logPath   string
}

// startVelero installs Velero into a new namespace of c with its own
// `velero install --dry-run -o yaml` (provider aws, the plugin, a bucket
// "velero" on srv with region minio, s3ForcePathStyle and s3Url, no volume
// snapshots) is applied (CRDs, namespace, the ServiceAccount velero bound to
// cluster-admin, the credentials Secret, the BackupStorageLocation default),
// with its Deployment scaled to zero, as Velero's "Run Velero locally" doc
// does (its restore reads the Deployment). The Deployment's container is run
// here instead, as a process: its args (the server at its
// defaults as `velero install` passes them) and its environment (credentials,
// scratch and plugin paths mapped to files of this test), as the
// ServiceAccount (a token kubeconfig, as in a pod: not the admin, whom
// Priority and Fairness would exempt), plus only the flags a process outside
// the cluster needs:
//   - --kubeconfig (the ServiceAccount's token), --namespace (the test's, not velero),
//     --plugin-dir (the build's plugins directory instead of /plugins);
//   - --metrics-address and --profiler-address on free loopback ports (the
//     defaults are :8085 on every interface and localhost:6060, which another
//     process on this machine may hold).
//
// It waits until the BackupStorageLocation is Available and stops the server
// (SIGTERM, then SIGKILL of its process group) when the test ends.
func startVelero(tb testing.TB, c *cluster.Cluster, srv *objectstores.Server, build veleroBinaries) *veleroServer {
	tb.Helper()
	ctx := context.Background()
	if srv.Kind != objectstores.S3 {
		tb.Fatalf("startVelero needs an S3 store, got %s", srv.Kind)
	}
	if err := srv.CreateBucket(ctx, "velero"); err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	ns := c.NewNamespace(tb)
	creds := filepath.Join(dir, "credentials-velero")
	if err := os.WriteFile(creds, []byte(fmt.Sprintf("[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", srv.AccessKey, srv.SecretKey)), 0o600); err != nil {
		tb.Fatal(err)
	}

	install := exec.Command(build.velero, "install", "--dry-run", "-o", "yaml",
		"--kubeconfig", c.Kubeconfig(), "--namespace", ns,
		"--provider", "aws", "--plugins", veleroPluginImage, "--bucket", "velero", "--secret-file", creds,
		"--backup-location-config", "region=minio,s3ForcePathStyle=true,s3Url="+srv.Endpoint,
		"--use-volume-snapshots=false")
	install.Env = append(os.Environ(), "HOME="+dir) // no client config of the machine's user
	var stderr bytes.Buffer
	install.Stderr = &stderr
	manifest, err := install.Output()
	if err != nil {
		tb.Fatalf("velero install --dry-run: %v\n%s", err, stderr.String())
	}
	objs, container, err := splitVeleroInstall(manifest)
	if err != nil {
		tb.Fatal(err)
	}
	applied := filepath.Join(dir, "velero-install.yaml")
	if err := os.WriteFile(applied, objs, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := c.ApplyYAML(ctx, applied); err != nil {
		tb.Fatalf("applying velero install's manifest: %v", err)
	}
	tb.Cleanup(func() {
		// The ClusterRoleBinding `velero install` names after the namespace.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Client().RbacV1().ClusterRoleBindings().Delete(ctx, "velero-"+ns, metav1.DeleteOptions{})
	})
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := arkserver.WriteKubeconfig(ctx, c, ns, container.serviceAccount, kubeconfig); err != nil {
		tb.Fatal(err)
	}

	scratch := filepath.Join(dir, "scratch")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		tb.Fatal(err)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		// Nothing of the test's identity or store credentials: the server has
		// its kubeconfig and its credentials file.
		if strings.HasPrefix(kv, "KUBECONFIG=") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	for _, ev := range container.env {
		switch {
		case ev.fieldPath == "metadata.namespace":
			env = append(env, ev.name+"="+ns)
		case ev.fieldPath != "":
			tb.Fatalf("velero install's Deployment sets %s from %s, which this harness does not map", ev.name, ev.fieldPath)
		case strings.HasPrefix(ev.value, "/credentials/"):
			env = append(env, ev.name+"="+creds)
		case ev.value == "/scratch":
			env = append(env, ev.name+"="+scratch)
		case ev.value == "/plugins":
			env = append(env, ev.name+"="+build.pluginDir)
		default:
			env = append(env, ev.name+"="+ev.value)
		}
	}
	args := append(append([]string{}, container.args...),
		"--kubeconfig", kubeconfig, "--namespace", ns, "--plugin-dir", build.pluginDir,
		"--metrics-address", freeAddress(tb), "--profiler-address", freeAddress(tb))

	v := &veleroServer{tb: tb, namespace: ns, dyn: c.Dynamic(), logPath: filepath.Join(dir, "velero-server.log"), exited: make(chan struct{})}
	logFile, err := os.Create(v.logPath)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(logFile, "=== %s %s\n", build.velero, strings.Join(args, " "))
	v.cmd = exec.Command(build.velero, args...)
	v.cmd.Env = env
	v.cmd.Dir = dir
	v.cmd.Stdout, v.cmd.Stderr = logFile, logFile
	// Its own process group, so that its plugin processes stop with it; and
	// it dies with the test binary.
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := v.cmd.Start(); err != nil {
		_ = logFile.Close()
		tb.Fatal(err)
	}
	tb.Logf("velero server (pid %d) in %s: %s", v.cmd.Process.Pid, ns, strings.Join(args, " "))
	go func() {
		_ = v.cmd.Wait()
		_ = logFile.Close()
		close(v.exited)
	}()
	tb.Cleanup(v.stop)

	// Backups need an Available location: the server validates it at start.
	var phase string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case <-v.exited:
			return false, errors.New("velero server exited")
		default:
		}
		bsl, err := v.get(ctx, "backupstoragelocations", "default")
		if err != nil {
			return false, nil
		}
		phase, _, _ = unstructured.NestedString(bsl.Object, "status", "phase")
		return phase == "Available", nil
	})
	if err != nil {
		tb.Fatalf("velero's BackupStorageLocation default is %q: %v\n%s", phase, err, v.logTail(80))
	}
	return v
}

// veleroContainer is what startVelero takes from the Deployment of `velero install`.
type veleroContainer struct {
	args           []string // the server's command line after the binary ("server", ...)
	env            []veleroEnvVar
	serviceAccount string
}

type veleroEnvVar struct {
	name, value string
	fieldPath   string // valueFrom.fieldRef.fieldPath, if set
}

// splitVeleroInstall takes the output of `velero install --dry-run -o yaml`
// (a List) apart: the manifest to apply, with the Deployment velero scaled to
// zero replicas (YAML, one document per object), and that Deployment's server
// container.
func splitVeleroInstall(manifest []byte) ([]byte, veleroContainer, error) {
	var c veleroContainer
	var list unstructured.UnstructuredList
	j, err := yaml.YAMLToJSON(manifest)
	if err != nil {
		return nil, c, fmt.Errorf("velero install's output: %w", err)
	}
	if err := list.UnmarshalJSON(j); err != nil {
		return nil, c, fmt.Errorf("velero install's output is not a List: %w", err)
	}
	var out bytes.Buffer
	found := false
	for _, o := range list.Items {
		if o.GetKind() == "Deployment" && o.GetName() == "velero" {
			spec, _, _ := unstructured.NestedMap(o.Object, "spec", "template", "spec")
			c.serviceAccount, _, _ = unstructured.NestedString(spec, "serviceAccountName")
			containers, _, _ := unstructured.NestedSlice(spec, "containers")
			for _, x := range containers {
				m, _ := x.(map[string]any)
				if m["name"] != "velero" {
					continue
				}
				found = true
				c.args, _, _ = unstructured.NestedStringSlice(m, "args")
				envs, _, _ := unstructured.NestedSlice(m, "env")
				for _, e := range envs {
					em, _ := e.(map[string]any)
					name, _, _ := unstructured.NestedString(em, "name")
					value, _, _ := unstructured.NestedString(em, "value")
					fieldPath, _, _ := unstructured.NestedString(em, "valueFrom", "fieldRef", "fieldPath")
					c.env = append(c.env, veleroEnvVar{name: name, value: value, fieldPath: fieldPath})
				}
			}
			// Velero's run-locally doc: the Deployment stays, scaled to zero
			// (its restore looks it up, e.g. for the image of its helpers).
			if err := unstructured.SetNestedField(o.Object, int64(0), "spec", "replicas"); err != nil {
				return nil, c, err
			}
		}
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, c, err
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	switch {
	case !found:
		return nil, c, errors.New("velero install's output has no Deployment velero with a container velero")
	case len(c.args) == 0 || c.args[0] != "server":
		return nil, c, fmt.Errorf("velero install's Deployment runs %q, not the server", c.args)
	case c.serviceAccount == "":
		return nil, c, errors.New("velero install's Deployment names no ServiceAccount")
	}
	return out.Bytes(), c, nil
}

func veleroGVR(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: resource}
}

func (v *veleroServer) get(ctx context.Context, resource, name string) (*unstructured.Unstructured, error) {
	return v.dyn.Resource(veleroGVR(resource)).Namespace(v.namespace).Get(ctx, name, metav1.GetOptions{})
}

// backup creates a Velero Backup of ns and waits until it is Completed; it
// returns the time from creation and the peak RSS of Velero's plugin
// processes meanwhile.
func (v *veleroServer) backup(ctx context.Context, name, ns string) (time.Duration, pluginPeak, error) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": name, "namespace": v.namespace},
		"spec":     map[string]any{"includedNamespaces": []any{ns}},
	}}
	return v.run(ctx, "backups", obj, nil)
}

// restore creates a Velero Restore of backup with namespace from mapped to
// to, and waits until it is Completed with no error (the caller counts what
// it restored).
func (v *veleroServer) restore(ctx context.Context, name, backup, from, to string) (time.Duration, pluginPeak, error) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Restore",
		"metadata": map[string]any{"name": name, "namespace": v.namespace},
		"spec":     map[string]any{"backupName": backup, "namespaceMapping": map[string]any{from: to}},
	}}
	return v.run(ctx, "restores", obj, func(got *unstructured.Unstructured) error {
		if errs, _, _ := unstructured.NestedInt64(got.Object, "status", "errors"); errs != 0 {
			status, _, _ := unstructured.NestedMap(got.Object, "status")
			return fmt.Errorf("velero restore %s: %d errors: %v", name, errs, status)
		}
		return nil
	})
}

// run creates obj (a Backup or Restore) and watches it until its phase is
// Completed (a failed phase is an error), sampling the plugin
// processes meanwhile; check, if set, then checks the final object.
func (v *veleroServer) run(ctx context.Context, resource string, obj *unstructured.Unstructured, check func(*unstructured.Unstructured) error) (time.Duration, pluginPeak, error) {
	sampler := samplePlugins(v.pid())
	t0 := time.Now()
	if _, err := v.dyn.Resource(veleroGVR(resource)).Namespace(v.namespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return 0, sampler.stop(), err
	}
	// Watched as ark's objects are (watchUntil); a Velero that exits ends the wait.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-v.exited:
			cancel()
		case <-wctx.Done():
		}
	}()
	var got *unstructured.Unstructured
	err := watchUntil(wctx, v.dyn, veleroGVR(resource), v.namespace, obj.GetName(), 30*time.Minute, func(u *unstructured.Unstructured) (bool, error) {
		got = u
		phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
		switch phase {
		case "Completed":
			return true, nil
		case "Failed", "PartiallyFailed", "FailedValidation":
			status, _, _ := unstructured.NestedMap(got.Object, "status")
			return false, fmt.Errorf("velero %s %s: %s %v", resource, obj.GetName(), phase, status)
		}
		return false, nil
	})
	if err != nil {
		select {
		case <-v.exited:
			err = fmt.Errorf("velero server exited: %w", err)
		default:
		}
	}
	d := time.Since(t0)
	peak := sampler.stop()
	if err != nil {
		return d, peak, fmt.Errorf("%w\n%s", err, v.logTail(60))
	}
	if check != nil {
		err = check(got)
	}
	return d, peak, err
}

func (v *veleroServer) pid() int { return v.cmd.Process.Pid }

// stop sends SIGTERM and waits, then SIGKILLs the process group.
func (v *veleroServer) stop() {
	_ = v.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-v.exited:
	case <-time.After(arkserver.StopTimeout):
		v.tb.Logf("velero server ignored SIGTERM for %s: killed", arkserver.StopTimeout)
	}
	_ = syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
	<-v.exited
	if v.tb.Failed() {
		v.tb.Log(v.logTail(100))
	}
}

func (v *veleroServer) logTail(n int) string {
	data, _ := os.ReadFile(v.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- velero server log (" + v.logPath + ") ---\n" + strings.Join(lines, "\n")
}

// pluginPeak is the peak RSS (VmHWM, MiB) of each plugin process seen
// during one operation, and their sum: not all of them run at once (Velero
// starts and stops plugin processes during an operation), so the sum is an
// upper bound of the plugins' memory at any moment.
type pluginPeak struct {
	total float64
	procs map[int]pluginProc
}

type pluginProc struct {
	name string
	hwm  float64
}

func (p pluginPeak) String() string {
	if len(p.procs) == 0 {
		return "none seen"
	}
	var parts []string
	for pid, pr := range p.procs {
		parts = append(parts, fmt.Sprintf("%s (pid %d) %.0f MiB", pr.name, pid, pr.hwm))
	}
	return fmt.Sprintf("%.0f MiB: %s", p.total, strings.Join(parts, ", "))
}

type pluginSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	seen map[int]pluginProc
}

// samplePlugins reads the VmHWM of every child process of parent every 100
// ms until stop, keeping each one's last reading (VmHWM only grows): a
// process's growth in its last 100 ms can be missed.
func samplePlugins(parent int) *pluginSampler {
	s := &pluginSampler{done: make(chan struct{}), seen: map[int]pluginProc{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			s.sample(parent)
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *pluginSampler) sample(parent int) {
	for _, pid := range childPids(parent) {
		hwm, _, err := readProcMemory(pid)
		if err != nil {
			continue // gone
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
		s.mu.Lock()
		s.seen[pid] = pluginProc{name: strings.TrimSpace(string(comm)), hwm: hwm}
		s.mu.Unlock()
	}
}

func (s *pluginSampler) stop() pluginPeak {
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := pluginPeak{procs: s.seen}
	for _, pr := range s.seen {
		p.total += pr.hwm
	}
	return p
}

// childPids lists the processes whose parent is pid (/proc/<pid>/task/*/children).
func childPids(pid int) []int {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	var out []int
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
