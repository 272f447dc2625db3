//go:build integration

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// scaleSizes are the sizes of BenchmarkScale: the field's scale test (100,000
// objects over 2,500 namespaces) and a tenth of it, to see how the server's
// memory grows. ARK_BENCH_SCALE ("10000,100000") overrides them.
func scaleSizes() []int {
	var out []int
	for _, f := range strings.Split(os.Getenv("ARK_BENCH_SCALE"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n >= scalePerNamespace {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []int{10000, 100000}
	}
	return out
}

// scalePerNamespace is the number of objects in each namespace of
// BenchmarkScale, in this mix (1 KB ConfigMaps, small Secrets, headless
// Services, paused Deployments of no replicas, custom resources).
const scalePerNamespace = 40

var scaleMix = []struct {
	kind  string
	count int
}{{"configmaps", 16}, {"secrets", 10}, {"services", 6}, {"deployments", 4}, {"widgets", 4}}

// widgetsGVR is the custom resource of BenchmarkScale.
var widgetsGVR = schema.GroupVersionResource{Group: "bench.ark.test", Version: "v1", Resource: "widgets"}

// BenchmarkScale runs the field's scale test with the server as users run it:
// n objects (default 10,000 and 100,000) spread over n/40 namespaces, a mix
// of kinds (ConfigMaps, Secrets, Services, Deployments, custom resources of a
// CRD). Each size has a server process of its own, whose peak RSS (VmHWM) is
// read at the end. In one run, side by side:
//
//   - raw create: creating the namespaces, then the objects, with 16
//     goroutines of the admin client (this fills the source);
//   - raw list: a paged list (500 a page) of each kind over the cluster, with
//     the label selector every object has;
//   - backup: a Backup with that label selector, creation to Completed;
//   - restore: a Restore of it with every namespace mapped to a new one,
//     creation to Completed, every object restored;
//   - raw create after: the raw create again into n/40 more namespaces.
//
// The restore runs on an etcd that holds the source already, which favours
// the first raw create; the raw create after it runs on an etcd bigger still.
// The table gives the restore against both. With $ARK_BENCH_DIAG the run
// also records the server's RSS, log, progress and profiles (benchDiag).
func BenchmarkScale(b *testing.B) {
	ctx := context.Background()
	ensureWidgetsCRD(b)
	for _, n := range scaleSizes() {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			for i := range b.N {
				scaleRun(ctx, b, n, fmt.Sprintf("s%d-%d-%d", n/1000, b.N, i))
			}
		})
	}
}

func scaleRun(ctx context.Context, b *testing.B, n int, prefix string) {
	b.StopTimer()
	e := startArk(b, testCluster, envOptions{args: benchDiagArgs()})
	pid := e.server.Pid()
	diag := startBenchDiag(b, e, prefix)
	defer diag.finish()
	nns := n / scalePerNamespace
	label := map[string]string{"bench": prefix}
	dyn := dynamic.NewForConfigOrDie(testCluster.RESTConfig())
	src := func(i int) string { return fmt.Sprintf("%s-%04d", prefix, i) }

	b.StartTimer()
	rawCreate := scaleRawCreate(ctx, b, dyn, nns, src, label)
	b.Logf("raw create of %d namespaces and %d objects: %v", nns, n, rawCreate.Round(time.Millisecond))

	diag.setPhase("list")
	t0 := time.Now()
	listed := 0
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "namespaces"}, {Version: "v1", Resource: "configmaps"}, {Version: "v1", Resource: "secrets"},
		{Version: "v1", Resource: "services"}, {Group: "apps", Version: "v1", Resource: "deployments"}, widgetsGVR,
	} {
		listed += pagedList(ctx, b, dyn.Resource(gvr), "bench="+prefix)
	}
	rawList := time.Since(t0)
	if want := n + nns; listed != want {
		b.Fatalf("raw list saw %d objects, want %d", listed, want)
	}

	diag.setPhase("backup")
	backupName := prefix
	bk := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: backupName}, Spec: arkv1.BackupSpec{
		LabelSelector: &metav1.LabelSelector{MatchLabels: label},
	}}
	backupTime, err := waitOperation(ctx, func(ctx context.Context) error {
		_, err := e.ark.ArkV1().Backups(e.namespace).Create(ctx, bk, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context) error {
		return watchUntilTyped(ctx, dyn, arkv1.SchemeGroupVersion.WithResource("backups"), e.namespace, backupName, 2*time.Hour, func(b *arkv1.Backup) (bool, error) {
			switch b.Status.Phase {
			case arkv1.BackupPhaseCompleted:
				return true, nil
			case arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailedValidation:
				return false, fmt.Errorf("backup %s: %s %+v", b.Name, b.Status.Phase, b.Status)
			}
			return false, nil
		})
	})
	if err != nil {
		b.Fatal(err)
	}

	mapping := make(map[string]string, nns)
	for i := range nns {
		mapping[src(i)] = "r" + src(i)
	}
	rs := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: prefix}, Spec: arkv1.RestoreSpec{
		BackupName: backupName, NamespaceMapping: mapping,
	}}
	diag.setPhase("restore")
	var final *arkv1.Restore
	restoreTime, err := waitOperation(ctx, func(ctx context.Context) error {
		_, err := e.ark.ArkV1().Restores(e.namespace).Create(ctx, rs, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context) error {
		return watchUntilTyped(ctx, dyn, arkv1.SchemeGroupVersion.WithResource("restores"), e.namespace, prefix, 2*time.Hour, func(r *arkv1.Restore) (bool, error) {
			final = r
			if r.Status.Progress != nil {
				diag.progress(r.Status.Progress.ItemsRestored)
			}
			switch r.Status.Phase {
			case arkv1.RestorePhaseCompleted:
				return true, nil
			case arkv1.RestorePhaseFailed, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailedValidation:
				return false, fmt.Errorf("restore %s: %s %+v", r.Name, r.Status.Phase, r.Status)
			}
			return false, nil
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	diag.setPhase("check")
	// Every object and namespace of the source is in its mapped namespace.
	restored := 0
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "configmaps"}, {Version: "v1", Resource: "secrets"},
		{Version: "v1", Resource: "services"}, {Group: "apps", Version: "v1", Resource: "deployments"}, widgetsGVR,
	} {
		restored += pagedList(ctx, b, dyn.Resource(gvr), format.RestoreNameLabel+"="+prefix)
	}
	if restored != n || final.Status.Errors != 0 {
		b.Fatalf("restore %s: %d objects restored, want %d; status %+v", prefix, restored, n, final.Status)
	}

	// The same raw create again, now on the etcd the restore ran on (the
	// source and the restored copy in it): the restore ran on a bigger
	// store than the first raw create, this one on a bigger store still.
	diag.setPhase("raw-after")
	rawAfter := scaleRawCreate(ctx, b, dyn, nns, func(i int) string { return "a" + src(i) }, map[string]string{"bench": prefix + "-after"})
	b.Logf("raw create after the restore: %v", rawAfter.Round(time.Millisecond))
	b.StopTimer()

	hwm, rss := procMemory(b, pid)
	b.ReportMetric(rawCreate.Seconds(), "raw-create-s")
	b.ReportMetric(restoreTime.Seconds(), "restore-s")
	b.ReportMetric(rawCreate.Seconds()/restoreTime.Seconds(), "restore-rate/raw")
	b.ReportMetric(rawAfter.Seconds(), "raw-create-after-s")
	b.ReportMetric(rawAfter.Seconds()/restoreTime.Seconds(), "restore-rate/raw-after")
	b.ReportMetric(rawList.Seconds(), "raw-list-s")
	b.ReportMetric(backupTime.Seconds(), "backup-s")
	b.ReportMetric(backupTime.Seconds()/rawList.Seconds(), "backup/raw-list")
	b.ReportMetric(hwm, "peak-RSS-MiB")
	b.Logf("server pid %d: VmHWM %.1f MiB, VmRSS %.1f MiB after the restore", pid, hwm, rss)
	benchRow(b, fmt.Sprintf("scale %s backup (%d namespaces, mixed kinds)", fmtCount(n), nns), "paged list", rawList, backupTime, "≥ 0.50", hwm)
	benchRow(b, fmt.Sprintf("scale %s restore (%d namespaces, mixed kinds)", fmtCount(n), nns), "16-worker create", rawCreate, restoreTime, "≥ 0.60", hwm)
	benchRow(b, fmt.Sprintf("scale %s restore, against the raw create after it", fmtCount(n)), "16-worker create, after", rawAfter, restoreTime, "-", hwm)
	b.StartTimer()
}

// scaleRawCreate creates nns namespaces named by ns(i) with label, then the
// scaleMix objects in each, with benchWorkers goroutines of the admin
// client, and returns how long it took.
func scaleRawCreate(ctx context.Context, b *testing.B, dyn dynamic.Interface, nns int, ns func(int) string, label map[string]string) time.Duration {
	var nsJobs, objJobs []func(context.Context) error
	for i := range nns {
		name := ns(i)
		nsJobs = append(nsJobs, func(ctx context.Context) error {
			_, err := testCluster.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: label}}, metav1.CreateOptions{})
			return err
		})
		objJobs = append(objJobs, scaleObjects(dyn, name, label)...)
	}
	t0 := time.Now()
	if err := runPool(ctx, nsJobs); err != nil {
		b.Fatal(err)
	}
	if err := runPool(ctx, objJobs); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// scaleObjects returns the creation of the scaleMix objects of one namespace.
func scaleObjects(dyn dynamic.Interface, ns string, label map[string]string) []func(context.Context) error {
	value := strings.Repeat("x", 900)
	var out []func(context.Context) error
	add := func(gvr schema.GroupVersionResource, obj map[string]any) {
		u := &unstructured.Unstructured{Object: obj}
		u.SetNamespace(ns)
		u.SetLabels(label)
		out = append(out, func(ctx context.Context) error {
			_, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
			return err
		})
	}
	for _, m := range scaleMix {
		for j := range m.count {
			name := fmt.Sprintf("%s-%02d", strings.TrimSuffix(m.kind, "s"), j)
			switch m.kind {
			case "configmaps":
				add(schema.GroupVersionResource{Version: "v1", Resource: m.kind}, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
					"metadata": map[string]any{"name": name}, "data": map[string]any{"value": value}})
			case "secrets":
				add(schema.GroupVersionResource{Version: "v1", Resource: m.kind}, map[string]any{"apiVersion": "v1", "kind": "Secret",
					"metadata": map[string]any{"name": name}, "type": "Opaque", "stringData": map[string]any{"password": strings.Repeat("s", 200)}})
			case "services":
				add(schema.GroupVersionResource{Version: "v1", Resource: m.kind}, map[string]any{"apiVersion": "v1", "kind": "Service",
					"metadata": map[string]any{"name": name}, "spec": map[string]any{
						"clusterIP": "None", "selector": map[string]any{"app": name},
						"ports": []any{map[string]any{"name": "http", "port": int64(80), "targetPort": int64(8080)}},
					}})
			case "deployments":
				// Paused with no replicas: the deployment controller makes no
				// ReplicaSet and no Pod for it.
				d := &appsv1.Deployment{
					TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
					ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: appsv1.DeploymentSpec{
						Replicas: ptr.To[int32](0), Paused: true,
						Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
						Template: corev1.PodTemplateSpec{
							ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
							Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1.0"}}},
						},
					},
				}
				obj, err := toUnstructured(d)
				if err != nil {
					panic(err)
				}
				add(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: m.kind}, obj)
			case "widgets":
				add(widgetsGVR, map[string]any{"apiVersion": "bench.ark.test/v1", "kind": "Widget",
					"metadata": map[string]any{"name": name}, "spec": map[string]any{"size": int64(j), "color": "blue"}})
			}
		}
	}
	return out
}

// ensureWidgetsCRD creates the CRD of BenchmarkScale's custom resources and
// waits until it is served.
func ensureWidgetsCRD(tb testing.TB) {
	ctx := context.Background()
	c := apiextensionsclient.NewForConfigOrDie(testCluster.RESTConfig())
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.bench.ark.test"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "bench.ark.test",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
			}},
		},
	}
	if _, err := c.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		tb.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(testCluster.RESTConfig())
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(widgetsGVR).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	}); err != nil {
		tb.Fatalf("widgets.bench.ark.test not served: %v", err)
	}
}

// runPool runs jobs with benchWorkers goroutines and returns the first error.
func runPool(ctx context.Context, jobs []func(context.Context) error) error {
	ch := make(chan func(context.Context) error)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				if err := j(ctx); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	return first
}

// pagedList pages through a resource over all namespaces (500 a page) and
// counts the objects the label selector matches.
func pagedList(ctx context.Context, tb testing.TB, c dynamic.NamespaceableResourceInterface, selector string) int {
	n := 0
	opts := metav1.ListOptions{Limit: 500, LabelSelector: selector}
	for {
		l, err := c.List(ctx, opts)
		if err != nil {
			tb.Fatal(err)
		}
		n += len(l.Items)
		if l.GetContinue() == "" {
			return n
		}
		opts.Continue = l.GetContinue()
	}
}

// waitOperation runs create, then wait (a watch of the object: see
// watchUntil), and returns the time from before create until wait returned.
func waitOperation(ctx context.Context, create func(context.Context) error, wait func(context.Context) error) (time.Duration, error) {
	t0 := time.Now()
	if err := create(ctx); err != nil {
		return 0, err
	}
	err := wait(ctx)
	return time.Since(t0), err
}

// procMemory reads the peak (VmHWM) and current (VmRSS) resident set of a
// process, in MiB, from /proc/<pid>/status, failing the test on error.
func procMemory(tb testing.TB, pid int) (hwm, rss float64) {
	hwm, rss, err := readProcMemory(pid)
	if err != nil {
		tb.Fatal(err)
	}
	return hwm, rss
}

// readProcMemory is procMemory for a process that may be gone (an error).
func readProcMemory(pid int) (hwm, rss float64, err error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmHWM:":
			hwm = kb / 1024
		case "VmRSS:":
			rss = kb / 1024
		}
	}
	return hwm, rss, nil
}

func fmtCount(n int) string {
	if n%1000 == 0 {
		return fmt.Sprintf("%d,000", n/1000)
	}
	return strconv.Itoa(n)
}
