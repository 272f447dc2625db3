//go:build integration

// Integration tests of the backup engine against a real kube-apiserver (see
// pkg/test/cluster):
//
//	go test -tags integration ./pkg/backup/ -run Integration -v
//	go test -tags integration ./pkg/backup/ -run '^$' -bench BenchmarkBackupConfigMaps -benchtime 3x
//
// Set ARK_TEST_KUBECONFIG to reuse a running cluster
// (eval "$(hack/local-cluster.sh up)"; ARK_TEST_KUBECONFIG=$KUBECONFIG ...).
package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clientdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/test/cluster"
)

var testCluster *cluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(cluster.Main(m, func(_ context.Context, c *cluster.Cluster) (func(), error) {
		testCluster = c
		return func() {
			for _, ns := range benchNamespaces {
				_ = c.Client().CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
			}
		}, nil
	}))
}

// recordingSnapshotter snapshots nothing and records the volumes asked for.
type recordingSnapshotter struct {
	mu  sync.Mutex
	pvs []string
}

func (s *recordingSnapshotter) SnapshotVolume(ctx context.Context, pv *unstructured.Unstructured, tags map[string]string) (*arkv1.VolumeBackupInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pvs = append(s.pvs, pv.GetName())
	return &arkv1.VolumeBackupInfo{SnapshotID: "snap-" + pv.GetName()}, nil
}

func newRealBackupper(t testing.TB, snap VolumeSnapshotter, opts ...Option) *Backupper {
	t.Helper()
	cfg := testCluster.RESTConfig()
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewRemotePodCommandExecutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := NewRESTRawLister(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// As ark server does: raw pages first, so options may still override.
	opts = append([]Option{WithRawLister(raw)}, opts...)
	return NewBackupper(discovery.NewHelper(dc), testCluster.Dynamic(), exec, snap, nil, opts...)
}

func runRealBackup(t testing.TB, b *Backupper, spec arkv1.BackupSpec) (*Result, *tarball, string) {
	t.Helper()
	res, tb, log, err := tryRealBackup(t, b, spec)
	if err != nil {
		t.Fatalf("backup failed: %v\nlog:\n%s", err, log)
	}
	return res, tb, log
}

func tryRealBackup(t testing.TB, b *Backupper, spec arkv1.BackupSpec) (*Result, *tarball, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var contents, log bytes.Buffer
	backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "it"}, Spec: spec}
	res, err := b.Backup(ctx, backup, &contents, &log, nil)
	if err != nil {
		return res, nil, log.String(), err
	}
	return res, readTarball(t, contents.Bytes()), log.String(), nil
}

// itemsIn returns the tarball's items (without "resources/" and ".json")
// that concern the given namespaces: objects in them and the namespaces
// themselves.
func itemsIn(tb *tarball, namespaces ...string) []string {
	var out []string
	for _, it := range tb.items() {
		for _, ns := range namespaces {
			if strings.Contains(it, "/namespaces/"+ns+"/") || it == "namespaces/cluster/"+ns {
				out = append(out, it)
				break
			}
		}
	}
	return out
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func checkItems(t *testing.T, got, want []string) {
	t.Helper()
	got, want = sorted(got), sorted(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("items:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestIntegrationNginxSelector(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	ns := testCluster.NewNamespace(t)
	app := map[string]string{"app": "nginx"}
	pvName := "pv-" + ns

	// A bound claim: the volume, then the claim, then its Bound status (no PV
	// controller runs in the test control plane).
	_, err := kube.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + pvName}},
			ClaimRef:               &corev1.ObjectReference{Namespace: ns, Name: "nginx-logs"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// No controller removes the protection finalizers that admission puts on
	// volumes and claims: remove them, or the volume and the namespace stay.
	unprotect := []byte(`{"metadata":{"finalizers":null}}`)
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = kube.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, "nginx-logs", types.MergePatchType, unprotect, metav1.PatchOptions{})
		_ = kube.CoreV1().PersistentVolumes().Delete(ctx, pvName, metav1.DeleteOptions{})
		_, _ = kube.CoreV1().PersistentVolumes().Patch(ctx, pvName, types.MergePatchType, unprotect, metav1.PatchOptions{})
	})
	claim, err := kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-logs", Labels: app},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			VolumeName:  pvName,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	claim.Status.Phase = corev1.ClaimBound
	if _, err := kube.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(ctx, claim, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-deployment", Labels: app},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: app},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: app},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27", VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/var/log/nginx"}}}},
					Volumes:    []corev1.Volume{{Name: "logs", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "nginx-logs"}}}},
				},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "my-nginx", Labels: app},
		Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "nginx-config", Labels: app}, Data: map[string]string{"nginx.conf": "events {}"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}},
	} {
		if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Wait for the deployment's replica set and pod (names chosen by the controllers).
	var rsName, podName string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		rss, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
		if err != nil || len(rss.Items) != 1 {
			return false, nil
		}
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
		if err != nil || len(pods.Items) != 1 {
			return false, nil
		}
		rsName, podName = rss.Items[0].Name, pods.Items[0].Name
		return true, nil
	})
	if err != nil {
		t.Fatalf("waiting for the deployment's pod: %v", err)
	}

	want := []string{
		"namespaces/cluster/" + ns,
		"configmaps/namespaces/" + ns + "/nginx-config",
		"deployments.apps/namespaces/" + ns + "/nginx-deployment",
		"replicasets.apps/namespaces/" + ns + "/" + rsName,
		"pods/namespaces/" + ns + "/" + podName,
		"services/namespaces/" + ns + "/my-nginx",
		"persistentvolumeclaims/namespaces/" + ns + "/nginx-logs",
		"persistentvolumes/cluster/" + pvName,
	}
	selector := &metav1.LabelSelector{MatchLabels: app}

	t.Run("exact files", func(t *testing.T) {
		snap := &recordingSnapshotter{}
		res, tb, log := runRealBackup(t, newRealBackupper(t, snap), arkv1.BackupSpec{IncludedNamespaces: []string{ns}, LabelSelector: selector})
		checkItems(t, tb.items(), want)
		if tb.names[0] != format.MetadataVersionPath {
			t.Errorf("first entry %s", tb.names[0])
		}
		if len(res.Errors) != 0 || len(res.Warnings) != 0 || len(res.InconsistentResources) != 0 {
			t.Errorf("errors %v warnings %v inconsistent %v\n%s", res.Errors, res.Warnings, res.InconsistentResources, log)
		}
		if res.ResourceVersion == "" || res.ItemsBackedUp != len(want) {
			t.Errorf("rv %q items %d", res.ResourceVersion, res.ItemsBackedUp)
		}
		if fmt.Sprint(snap.pvs) != "["+pvName+"]" || res.VolumeBackups[pvName] == nil {
			t.Errorf("snapshots %v %v", snap.pvs, res.VolumeBackups)
		}
		// One object per file, as the server returned it, with apiVersion and kind.
		var d appsv1.Deployment
		if err := jsonUnmarshal(tb.files["resources/deployments.apps/namespaces/"+ns+"/nginx-deployment.json"], &d); err != nil {
			t.Fatal(err)
		}
		if d.APIVersion != "apps/v1" || d.Kind != "Deployment" || d.UID == "" || d.ResourceVersion == "" {
			t.Errorf("deployment %+v", d.TypeMeta)
		}
	})

	t.Run("all namespaces with the selector", func(t *testing.T) {
		// Cluster resources are included; other tests' objects may match too,
		// so only this namespace is checked.
		_, tb, _ := runRealBackup(t, newRealBackupper(t, nil), arkv1.BackupSpec{LabelSelector: selector})
		got := itemsIn(tb, ns)
		for _, it := range tb.items() {
			if it == "persistentvolumes/cluster/"+pvName {
				got = append(got, it)
			}
		}
		checkItems(t, got, want)
	})

	t.Run("hooks: exec fails without nodes, Continue records it", func(t *testing.T) {
		hooks := arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{{
			Name: "freeze", IncludedNamespaces: []string{ns}, LabelSelector: selector,
			Pre: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Command: []string{"/bin/sync"}, Timeout: metav1.Duration{Duration: 10 * time.Second}}}},
		}}}
		res, tb, _ := runRealBackup(t, newRealBackupper(t, nil), arkv1.BackupSpec{IncludedNamespaces: []string{ns}, LabelSelector: selector, Hooks: hooks})
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0], podName) {
			t.Errorf("errors = %v", res.Errors)
		} else {
			t.Logf("hook error: %s", res.Errors[0])
		}
		checkItems(t, tb.items(), want)

		hooks.Resources[0].Pre[0].Exec.OnError = arkv1.HookErrorModeFail
		_, _, _, err := tryRealBackup(t, newRealBackupper(t, nil), arkv1.BackupSpec{IncludedNamespaces: []string{ns}, LabelSelector: selector, Hooks: hooks})
		if err == nil || !strings.Contains(err.Error(), podName) {
			t.Errorf("Fail hook: err = %v", err)
		}
	})
}

func jsonUnmarshal(data []byte, v interface{}) error {
	if data == nil {
		return fmt.Errorf("no such file")
	}
	return json.Unmarshal(data, v)
}

func TestIntegrationIncludeExclude(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	a, b := testCluster.NewNamespace(t), testCluster.NewNamespace(t)
	for _, ns := range []string{a, b} {
		for _, name := range []string{"x", "y"} {
			labels := map[string]string{"tier": name}
			if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-" + name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s-" + name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, ns := range []string{a, b} {
		// The root CA publisher makes kube-root-ca.crt shortly after the namespace.
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("no kube-root-ca.crt in %s: %v", ns, err)
		}
	}
	cm := func(ns, n string) string { return "configmaps/namespaces/" + ns + "/cm-" + n }
	sec := func(ns, n string) string { return "secrets/namespaces/" + ns + "/s-" + n }
	nsf := func(ns string) string { return "namespaces/cluster/" + ns }
	// The ConfigMap the cluster's root CA publisher puts in every namespace.
	rootCA := func(ns string) string { return "configmaps/namespaces/" + ns + "/kube-root-ca.crt" }
	res := []string{"cm", "secrets"}

	tests := []struct {
		name string
		spec arkv1.BackupSpec
		want []string
	}{
		{"one namespace", arkv1.BackupSpec{IncludedNamespaces: []string{a}, IncludedResources: res},
			[]string{cm(a, "x"), cm(a, "y"), rootCA(a), sec(a, "x"), sec(a, "y"), nsf(a)}},
		{"both, secrets excluded", arkv1.BackupSpec{IncludedNamespaces: []string{a, b}, ExcludedResources: []string{"secret"}, IncludedResources: res},
			[]string{cm(a, "x"), cm(a, "y"), rootCA(a), cm(b, "x"), cm(b, "y"), rootCA(b), nsf(a), nsf(b)}},
		{"all but b", arkv1.BackupSpec{ExcludedNamespaces: []string{b}, IncludedResources: []string{"configmaps"}},
			[]string{cm(a, "x"), cm(a, "y"), rootCA(a), nsf(a)}},
		{"label selector", arkv1.BackupSpec{IncludedNamespaces: []string{a, b}, IncludedResources: res, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "x"}}},
			[]string{cm(a, "x"), cm(b, "x"), sec(a, "x"), sec(b, "x"), nsf(a), nsf(b)}},
		{"namespaces resource explicitly", arkv1.BackupSpec{IncludedNamespaces: []string{a, b}, IncludedResources: []string{"namespaces"}},
			[]string{nsf(a), nsf(b)}},
		{"namespaces excluded", arkv1.BackupSpec{IncludedNamespaces: []string{a}, IncludedResources: []string{"configmaps"}, ExcludedResources: []string{"namespaces"}},
			[]string{cm(a, "x"), cm(a, "y"), rootCA(a)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, tb, _ := runRealBackup(t, newRealBackupper(t, nil), tt.spec)
			checkItems(t, itemsIn(tb, a, b), tt.want)
			if len(res.Errors) != 0 {
				t.Errorf("errors %v", res.Errors)
			}
		})
	}

	t.Run("cluster resources follow the namespace filter", func(t *testing.T) {
		_, tb, _ := runRealBackup(t, newRealBackupper(t, nil), arkv1.BackupSpec{IncludedNamespaces: []string{a}})
		for _, it := range tb.items() {
			if strings.Contains(it, "/cluster/") && it != nsf(a) {
				t.Errorf("cluster-scoped item %s in a one-namespace backup", it)
			}
		}
		_, tb, _ = runRealBackup(t, newRealBackupper(t, nil), arkv1.BackupSpec{IncludedNamespaces: []string{a}, IncludeClusterResources: ptr.To(true)})
		if !contains(tb.items(), "clusterroles.rbac.authorization.k8s.io/cluster/cluster-admin") {
			t.Errorf("includeClusterResources=true: no cluster-admin clusterrole")
		}
		res, tb, log := runRealBackup(t, newRealBackupper(t, nil), arkv1.BackupSpec{})
		items := tb.items()
		t.Logf("whole cluster: %d items, rv %s, inconsistent %v, warnings %v, errors %v", res.ItemsBackedUp, res.ResourceVersion, res.InconsistentResources, res.Warnings, res.Errors)
		if len(res.Errors) != 0 {
			t.Errorf("whole-cluster backup errors: %v\n%s", res.Errors, log)
		}
		for _, want := range []string{"clusterroles.rbac.authorization.k8s.io/cluster/cluster-admin", nsf("kube-system"), nsf(a), cm(b, "y")} {
			if !contains(items, want) {
				t.Errorf("whole-cluster backup lacks %s", want)
			}
		}
		for _, it := range items {
			if strings.HasPrefix(it, "events") || strings.Contains(it, ".ark.heptio.com/") {
				t.Errorf("whole-cluster backup has %s", it)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestIntegrationCustomResources(t *testing.T) {
	ctx := context.Background()
	if err := testCluster.ApplyCRDs(ctx, filepath.Join("testdata", "crd.yaml")); err != nil {
		t.Fatal(err)
	}
	ns := testCluster.NewNamespace(t)
	dyn := testCluster.Dynamic()
	gvr := schema.GroupVersionResource{Group: "backuptest.example.com", Version: "v1", Resource: "frobbers"}
	create := func(name string) {
		t.Helper()
		o := &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "backuptest.example.com/v1", "kind": "Frobber",
			"metadata": map[string]interface{}{"name": name, "namespace": ns},
			"spec":     map[string]interface{}{"size": int64(3)},
		}}
		if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create("f1")
	create("f2")

	// No cluster-scoped resources, but the definition comes with its objects.
	res, tb, log := runRealBackup(t, newRealBackupper(t, nil), arkv1.BackupSpec{IncludedNamespaces: []string{ns}})
	items := tb.items()
	for _, it := range items {
		if strings.Contains(it, "/cluster/") && it != "namespaces/cluster/"+ns && !strings.HasPrefix(it, "customresourcedefinitions.") {
			t.Errorf("cluster-scoped item %s", it)
		}
	}
	for _, want := range []string{
		"customresourcedefinitions.apiextensions.k8s.io/cluster/frobbers.backuptest.example.com",
		"frobbers.backuptest.example.com/namespaces/" + ns + "/f1",
		"frobbers.backuptest.example.com/namespaces/" + ns + "/f2",
	} {
		if !contains(items, want) {
			t.Errorf("missing %s", want)
		}
	}
	if len(res.InconsistentResources) != 0 || len(res.Warnings) != 0 {
		t.Errorf("inconsistent %v warnings %v\n%s", res.InconsistentResources, res.Warnings, log)
	}
	var f map[string]interface{}
	if err := jsonUnmarshal(tb.files["resources/frobbers.backuptest.example.com/namespaces/"+ns+"/f1.json"], &f); err != nil {
		t.Fatal(err)
	}
	if f["apiVersion"] != "backuptest.example.com/v1" || f["kind"] != "Frobber" {
		t.Errorf("f1 = %v", f)
	}

	// Exact works for custom resources: a list at the backup's resourceVersion
	// does not see an object created after it.
	create("f3")
	l, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{ResourceVersion: res.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact, Limit: 1})
	if err != nil {
		t.Fatalf("list at exactly %s: %v", res.ResourceVersion, err)
	}
	n := len(l.Items)
	for l.GetContinue() != "" {
		l, err = dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{Continue: l.GetContinue(), Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		n += len(l.Items)
	}
	if n != 2 {
		t.Errorf("list at exactly %s saw %d frobbers, want 2", res.ResourceVersion, n)
	}
}

// TestIntegrationPointInTime backs up a few thousand ConfigMaps while a
// writer creates ConfigMap X then Secret X and deletes Secret X then
// ConfigMap X: at every instant a Secret has its ConfigMap, so in a
// point-in-time backup every Secret has its ConfigMap.
func TestIntegrationPointInTime(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	ns := testCluster.NewNamespace(t)
	const filler = 3000
	const window = 50
	fillConfigMaps(t, kube, ns, filler, 200)

	stop := make(chan struct{})
	var cycles, duringBackup atomic.Int64
	var backingUp atomic.Bool
	writerErr := make(chan error, 1)
	go func() {
		defer close(writerErr)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// A sliding window of live pairs: X's ConfigMap is created before its
			// Secret and deleted after it, so a Secret never exists without its
			// ConfigMap, and many Secrets are alive at any time.
			name := fmt.Sprintf("x-%d", i)
			old := fmt.Sprintf("x-%d", i-window)
			steps := []func() error{
				func() error {
					_, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
					return err
				},
				func() error {
					_, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
					return err
				},
			}
			if i >= window {
				steps = append(steps,
					func() error { return kube.CoreV1().Secrets(ns).Delete(ctx, old, metav1.DeleteOptions{}) },
					func() error { return kube.CoreV1().ConfigMaps(ns).Delete(ctx, old, metav1.DeleteOptions{}) },
				)
			}
			for _, s := range steps {
				if err := s(); err != nil {
					writerErr <- err
					return
				}
				if backingUp.Load() {
					duringBackup.Add(1)
				}
			}
			cycles.Add(1)
		}
	}()

	// Several backups, small pages, so that the writer runs between pages.
	b := newRealBackupper(t, nil, WithPageSize(50))
	for round := 0; round < 3; round++ {
		time.Sleep(100 * time.Millisecond)
		backingUp.Store(true)
		res, tb, log := runRealBackup(t, b, arkv1.BackupSpec{IncludedNamespaces: []string{ns}, IncludedResources: []string{"configmaps", "secrets"}})
		backingUp.Store(false)
		if len(res.InconsistentResources) != 0 {
			t.Fatalf("inconsistent %v\n%s", res.InconsistentResources, log)
		}
		cms, secrets := map[string]bool{}, []string{}
		for _, it := range tb.items() {
			switch {
			case strings.HasPrefix(it, "configmaps/"):
				cms[filepath.Base(it)] = true
			case strings.HasPrefix(it, "secrets/"):
				secrets = append(secrets, filepath.Base(it))
			}
		}
		if len(cms) < filler {
			t.Errorf("round %d: %d configmaps, want at least %d", round, len(cms), filler)
		}
		nx := 0
		for _, s := range secrets {
			if strings.HasPrefix(s, "x-") {
				nx++
				if !cms[s] {
					t.Errorf("round %d: secret %s without its configmap: the backup is not one instant", round, s)
				}
			}
		}
		t.Logf("round %d: rv %s, %d items, %d x-secrets", round, res.ResourceVersion, res.ItemsBackedUp, nx)
	}
	// Control: the same check on fresh lists (ConfigMaps, then Secrets) usually
	// finds orphans, which shows the writer can break a backup that is not one instant.
	orphans := 0
	for round := 0; round < 3; round++ {
		cms := map[string]bool{}
		opts := metav1.ListOptions{Limit: 50}
		for {
			l, err := kube.CoreV1().ConfigMaps(ns).List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range l.Items {
				cms[c.Name] = true
			}
			if opts.Continue = l.Continue; l.Continue == "" {
				break
			}
		}
		secrets, err := kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets.Items {
			if strings.HasPrefix(sec.Name, "x-") && !cms[sec.Name] {
				orphans++
			}
		}
	}
	t.Logf("control: fresh lists found %d secrets without their configmap", orphans)
	close(stop)
	if err := <-writerErr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	t.Logf("writer: %d cycles, %d writes during the backups", cycles.Load(), duringBackup.Load())
	if duringBackup.Load() == 0 {
		t.Errorf("the writer made no change during the backups: the test proves nothing")
	}
}

// fillConfigMaps creates n ConfigMaps named cm-00000... with about size bytes of data, with 16 workers.
func fillConfigMaps(t testing.TB, kube kubernetes.Interface, ns string, n, size int) {
	t.Helper()
	ctx := context.Background()
	data := strings.Repeat("x", size)
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%05d", i)}, Data: map[string]string{"data": data}}
				if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case work <- i:
		case err := <-errs:
			close(work)
			t.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

var (
	// benchNamespaces holds the namespace filled for each benchmark size, filled once.
	benchNamespaces = map[int]string{}
)

// BenchmarkBackupConfigMaps backs up 10,000 and 50,000 ConfigMaps of about
// 1 KB into io.Discard and, in the same run, pages through them with
// client-go alone; it reports both times, their ratio, and the peak heap,
// which must stay bounded as the backup grows.
func BenchmarkBackupConfigMaps(b *testing.B) {
	for _, n := range []int{10000, 50000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) { benchmarkBackupConfigMaps(b, n) })
	}
}

func benchmarkBackupConfigMaps(b *testing.B, n int) {
	ctx := context.Background()
	kube := testCluster.Client()
	// The benchmark function runs more than once (b.N = 1, then more): fill once.
	if _, filled := benchNamespaces[n]; !filled {
		// Not NewNamespace: its cleanup would run after the first b.N round.
		created, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			GenerateName: fmt.Sprintf("bench-%dk-configmaps-", n/1000), Labels: map[string]string{cluster.TestNamespaceLabel: "true"},
		}}, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		benchNamespaces[n] = created.Name
		start := time.Now()
		fillConfigMaps(b, kube, created.Name, n, 1000)
		b.Logf("created %d configmaps in %v", n, time.Since(start).Round(time.Millisecond))
	}
	ns := benchNamespaces[n]
	if ns == "" {
		b.Fatal("filling the namespace failed")
	}
	bk := newRealBackupper(b, nil)
	spec := arkv1.BackupSpec{IncludedNamespaces: []string{ns}, IncludedResources: []string{"configmaps"}}

	// One untimed round of each first, so that neither side is measured with
	// cold connections, caches or discovery (with -benchtime 1x that round
	// would otherwise be the only one).
	if _, err := bk.Backup(ctx, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "warm-up"}, Spec: spec}, io.Discard, io.Discard, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{Limit: DefaultPageSize}); err != nil {
		b.Fatal(err)
	}

	var rawTotal, backupTotal time.Duration
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
			}
		}
	}()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		t0 := time.Now()
		count := 0
		opts := metav1.ListOptions{Limit: DefaultPageSize}
		for {
			l, err := kube.CoreV1().ConfigMaps(ns).List(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			count += len(l.Items)
			if l.Continue == "" {
				break
			}
			opts.Continue = l.Continue
		}
		rawTotal += time.Since(t0)
		if count < n {
			b.Fatalf("raw list saw %d configmaps", count)
		}
		b.StartTimer()

		t1 := time.Now()
		backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: spec}
		res, err := bk.Backup(ctx, backup, io.Discard, io.Discard, nil)
		if err != nil {
			b.Fatal(err)
		}
		backupTotal += time.Since(t1)
		if res.ItemsBackedUp < n {
			b.Fatalf("backed up %d items", res.ItemsBackedUp)
		}
	}
	b.StopTimer()
	close(stopSampling)
	<-sampled
	rawMs := float64(rawTotal.Milliseconds()) / float64(b.N)
	backupMs := float64(backupTotal.Milliseconds()) / float64(b.N)
	b.ReportMetric(backupMs, "backup-ms/op")
	b.ReportMetric(rawMs, "raw-list-ms/op")
	if rawMs > 0 {
		b.ReportMetric(backupMs/rawMs, "backup/raw")
	}
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapAlloc))/(1<<20), "peak-heap-growth-MB")
}
