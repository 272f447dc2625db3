//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/test/cluster"
	"github.com/heptio/ark/pkg/volume/csi"
	"github.com/heptio/ark/pkg/volume/csi/csitest"
)

// clusterDump lists every object of every listable resource and returns
// "group/resource ns/name" -> uid/resourceVersion. Leases, events and ark's
// own kinds are left out: the control plane and the ark server write them
// all the time (lease renewals, the Restore's status, download requests).
// So are namespaces being deleted (earlier tests' cleanups) and what is in
// them: they are going away whatever the test does.
func clusterDump(t *testing.T, c *cluster.Cluster) (objects map[string]string, terminating map[string]bool) {
	t.Helper()
	ctx := context.Background()
	dc, err := discovery.NewDiscoveryClientForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	terminating = map[string]bool{}
	nss, err := c.Client().CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp != nil {
			terminating[ns.Name] = true
		}
	}
	out := map[string]string{}
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		switch gv.Group {
		case arkv1.GroupName, "coordination.k8s.io", "events.k8s.io":
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || r.Name == "events" || !hasVerb(r.Verbs, "list") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			items, err := c.Dynamic().Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatalf("listing %s: %v", gvr, err)
			}
			for _, o := range items.Items {
				ns := o.GetNamespace()
				if gvr.Resource == "namespaces" {
					ns = o.GetName()
				}
				if terminating[ns] {
					continue
				}
				out[fmt.Sprintf("%s %s %s/%s", ns, gvr.GroupResource(), o.GetNamespace(), o.GetName())] = string(o.GetUID()) + "/" + o.GetResourceVersion()
			}
		}
	}
	return out, terminating
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// dumpDiff names the objects added, removed or changed between two dumps,
// but those of namespaces being deleted by then (keys start with their
// namespace).
func dumpDiff(before, after map[string]string, terminating map[string]bool) []string {
	var out []string
	for k, v := range before {
		if ns, _, _ := strings.Cut(k, " "); terminating[ns] {
			continue
		}
		if w, ok := after[k]; !ok {
			out = append(out, "removed "+k)
		} else if w != v {
			out = append(out, "changed "+k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out = append(out, "added "+k)
		}
	}
	sort.Strings(out)
	return out
}

// A dry run into a namespace whose ResourceQuota forbids ConfigMaps and that
// holds a changed copy of a backed-up Secret, and into a namespace that does
// not exist: the quota's refusal (the API server's message) and the existing
// Secret are reported, the namespace is reported as would-be-created, its
// ConfigMap as would-be-created without admission, and nothing in the
// cluster changes: every object listed before has the same uid and
// resourceVersion after, and no object is added.
func TestRestoreDryRunReportsQuotaAndExistingAndCreatesNothing(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	e := startArk(t, testCluster, envOptions{})
	src1, src2 := testCluster.NewNamespace(t), testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, src1, "settings")
	createConfigMaps(t, testCluster, src2, "other")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Labels: map[string]string{"app": "e2e"}}, StringData: map[string]string{"password": "backed-up"}}
	if _, err := kube.CoreV1().Secrets(src1).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.mustRun("backup", "create", "dry", "--include-namespaces", src1+","+src2, "--selector", "app=e2e", "--wait")

	// dst1 exists: no ConfigMap fits its quota, and it has its own "creds".
	dst1 := testCluster.NewNamespace(t)
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-configmaps"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceConfigMaps: resource.MustParse("0")}},
	}
	if _, err := kube.CoreV1().ResourceQuotas(dst1).Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the quota controller to compute the quota's usage", func() bool {
		q, err := kube.CoreV1().ResourceQuotas(dst1).Get(ctx, quota.Name, metav1.GetOptions{})
		return err == nil && len(q.Status.Hard) > 0
	})
	secret.StringData["password"] = "changed since"
	if _, err := kube.CoreV1().Secrets(dst1).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dst2 := src2 + "-new" // does not exist
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dst2, time.Minute) })

	before, _ := clusterDump(t, testCluster)
	out, err := e.run("restore", "create", "dry", "--name", "dry", "--dry-run", "--namespace-mappings", src1+":"+dst1+","+src2+":"+dst2, "--wait")
	if err == nil || !strings.Contains(err.Error(), "would fail on 1 items") {
		t.Fatalf("dry run: want an error saying one item would fail, got %v\n%s", err, out)
	}
	after, terminating := clusterDump(t, testCluster)
	if len(before) < 100 {
		t.Fatalf("the dump holds only %d objects", len(before))
	}
	if d := dumpDiff(before, after, terminating); len(d) > 0 {
		t.Errorf("the dry run changed the cluster:\n%s", strings.Join(d, "\n"))
	}
	if _, err := kube.CoreV1().Namespaces().Get(ctx, dst2, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s: %v, want NotFound", dst2, err)
	}
	t.Logf("ark restore create --dry-run --wait:\n%s", out)

	r, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, "dry", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Would create: namespace dst2 (from the backup's Namespace of src2) and
	// its ConfigMap (unvalidated); unchanged: namespace dst1.
	want := arkv1.RestoreDryRunCounts{WouldCreate: 2, Unvalidated: 1, Unchanged: 1, Existing: 1, WouldFail: 1}
	if r.Status.Phase != arkv1.RestorePhaseDryRunCompleted || r.Status.DryRun == nil || *r.Status.DryRun != want {
		t.Errorf("status %s %+v, want %s %+v", r.Status.Phase, r.Status.DryRun, arkv1.RestorePhaseDryRunCompleted, want)
	}
	for _, s := range []string{
		"configmaps " + dst1 + "/settings: create: configmaps \"settings\" is forbidden: exceeded quota: no-configmaps",
		"secrets " + dst1 + "/creds: differs from the backup",
		"- namespaces " + dst2 + "\n",
		"configmaps " + dst2 + "/other: not validated by admission: namespace " + dst2 + " does not exist and would be created by this restore",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("the summary lacks %q", s)
		}
	}
	desc := e.mustRun("restore", "describe", "dry")
	if !strings.Contains(desc, "Dry run:") || !strings.Contains(desc, "exceeded quota: no-configmaps") {
		t.Errorf("describe:\n%s", desc)
	}
	t.Logf("ark restore describe:\n%s", desc)
}

// verifyTestDriver is the CSI driver of the stand-in that makes VolumeSnapshots ready.
const verifyTestDriver = "hostpath.csi.k8s.io"

// csiClaim creates a CSI PV and its claim, bound by hand (no PV controller runs).
func csiClaim(t *testing.T, c *cluster.Cluster, ns, claim, pv string) {
	t.Helper()
	ctx := context.Background()
	dyn := c.Dynamic()
	gvrPVs := schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
	gvrPVCs := schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": pv}, "spec": map[string]any{
			"capacity": map[string]any{"storage": "1Gi"}, "accessModes": []any{"ReadWriteOnce"},
			"persistentVolumeReclaimPolicy": "Retain", "storageClassName": "sc",
			"claimRef": map[string]any{"namespace": ns, "name": claim},
			"csi":      map[string]any{"driver": verifyTestDriver, "volumeHandle": "vol-" + pv},
		}}}
	if _, err := dyn.Resource(gvrPVs).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = dyn.Resource(gvrPVs).Patch(ctx, pv, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		_ = dyn.Resource(gvrPVs).Delete(ctx, pv, metav1.DeleteOptions{})
	})
	pvc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": claim, "namespace": ns},
		"spec": map[string]any{"accessModes": []any{"ReadWriteOnce"}, "storageClassName": "sc", "volumeName": pv,
			"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}}}
	created, err := dyn.Resource(gvrPVCs).Namespace(ns).Create(ctx, pvc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(created.Object, "Bound", "status", "phase")
	if _, err := dyn.Resource(gvrPVCs).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// deleteSnapshot deletes a CSI snapshot's VolumeSnapshot and
// VolumeSnapshotContent behind ark's back (finalizers cleared: no snapshot
// controller runs).
func deleteSnapshot(t *testing.T, c *cluster.Cluster, id string) {
	t.Helper()
	ctx := context.Background()
	ref, err := csi.ParseSnapshotID(id)
	if err != nil {
		t.Fatal(err)
	}
	dyn := c.Dynamic()
	for _, o := range []struct {
		r    dynamic.ResourceInterface
		name string
	}{
		{dyn.Resource(csi.VolumeSnapshots).Namespace(ref.Namespace), ref.Name},
		{dyn.Resource(csi.VolumeSnapshotContents), ref.Content},
	} {
		_, _ = o.r.Patch(ctx, o.name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		if err := o.r.Delete(ctx, o.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
}

// `ark backup verify` on the real server and bucket: a whole backup with a
// CSI snapshot passes; with bytes of its tarball flipped in the bucket it
// fails on the checksum; with its VolumeSnapshot and content deleted it fails
// on the snapshot. The Backup's status and the failure metric record it.
func TestBackupVerifyFindsCorruptTarballAndDeletedSnapshot(t *testing.T) {
	ctx := context.Background()
	if err := testCluster.ApplyCRDs(ctx, csitest.CRDs()); err != nil {
		t.Fatal(err)
	}
	standIn, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go csitest.RunSnapshotStandIn(standIn, testCluster.Dynamic(), verifyTestDriver, "")
	e := startArk(t, testCluster, envOptions{config: func(c *arkv1.Config) {
		c.PersistentVolumeProvider = &arkv1.CloudProviderConfig{Name: "csi", Config: map[string]string{"readyTimeout": "30s"}}
	}})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")
	csiClaim(t, testCluster, app, "data", "pv-verify-"+app)
	e.mustRun("backup", "create", "snap", "--include-namespaces", app, "--include-cluster-resources", "--wait")
	e.mustRun("backup", "create", "plain", "--include-namespaces", app, "--snapshot-volumes=false", "--wait")

	out := e.mustRun("backup", "verify", "snap")
	if !strings.Contains(out, "verification Passed") || !strings.Contains(out, "1 snapshots checked") {
		t.Fatalf("verify of a whole backup:\n%s", out)
	}
	t.Logf("ark backup verify (whole):\n%s", out)
	b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "snap", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Status.LastVerified == nil || b.Status.Verification == nil || b.Status.Verification.Phase != arkv1.BackupVerificationPassed {
		t.Fatalf("backup status after verify: %+v %+v", b.Status.LastVerified, b.Status.Verification)
	}

	// The snapshot is deleted behind ark's back.
	var id string
	for _, info := range b.Status.VolumeBackups {
		id = info.SnapshotID
	}
	deleteSnapshot(t, testCluster, id)
	out, err = e.run("backup", "verify", "snap")
	if err == nil || !strings.Contains(out, "verification Failed") || !strings.Contains(out, "snapshot "+id+" of PV pv-verify-"+app+" no longer exists") {
		t.Fatalf("verify after the snapshot was deleted: %v\n%s", err, out)
	}
	t.Logf("ark backup verify (snapshot deleted):\n%s", out)

	// Bytes of the other backup's tarball are flipped in the bucket.
	path := filepath.Join(e.bucket, "ark", "plain", "plain.tar.gz")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 3; i < len(data)/3+8; i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = e.run("backup", "verify", "plain")
	if err == nil || !strings.Contains(out, "verification Failed") || !strings.Contains(out, "checksum mismatch") {
		t.Fatalf("verify of a corrupted tarball: %v\n%s", err, out)
	}
	t.Logf("ark backup verify (corrupted):\n%s", out)
	b, _ = e.ark.ArkV1().Backups(e.namespace).Get(ctx, "plain", metav1.GetOptions{})
	if b.Status.Verification == nil || b.Status.Verification.Phase != arkv1.BackupVerificationFailed {
		t.Errorf("backup status after a failed verify: %+v", b.Status.Verification)
	}
	desc := e.mustRun("backup", "describe", "plain")
	if !strings.Contains(desc, "Result:") || !strings.Contains(desc, "checksum mismatch") {
		t.Errorf("describe lacks the verification:\n%s", desc)
	}
	_, metrics := httpGet(t, "http://"+e.httpAddr+"/metrics")
	for _, want := range []string{"ark_backup_verification_total 3", "ark_backup_verification_failure_total 2"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grep(metrics, "verification"))
		}
	}
}

// A Schedule with --verify has each of its backups verified once done.
func TestScheduleVerifiesItsBackups(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")
	e.mustRun("schedule", "create", "checked", "--schedule", "0 7 * * *", "--include-namespaces", app, "--verify")
	var b *arkv1.Backup
	waitFor(t, "the schedule's first backup to be verified", func() bool {
		l, err := e.ark.ArkV1().Backups(e.namespace).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) == 0 {
			return false
		}
		b = &l.Items[0]
		return b.Status.Verification != nil
	})
	if b.Status.Verification.Phase != arkv1.BackupVerificationPassed || b.Status.Verification.Items == 0 {
		t.Errorf("verification %+v", b.Status.Verification)
	}
}

// `ark backup diff` against the real cluster: after a backup, one ConfigMap
// is deleted, one changed and one added; the diff finds exactly these three
// (the namespace's other objects, the default ServiceAccount and
// kube-root-ca.crt, are unchanged), in text and in JSON.
func TestBackupDiffFindsAddedRemovedChanged(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	e := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "removed", "changed", "same")
	waitFor(t, "kube-root-ca.crt from the root CA publisher", func() bool {
		_, err := kube.CoreV1().ConfigMaps(app).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil
	})
	e.mustRun("backup", "create", "before", "--include-namespaces", app, "--wait")

	if out := e.mustRun("backup", "diff", "before"); !strings.Contains(out, "0 only in the backup, 0 only in the cluster, 0 changed") {
		t.Fatalf("diff right after the backup:\n%s", out)
	}
	if err := kube.CoreV1().ConfigMaps(app).Delete(ctx, "removed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := kube.CoreV1().ConfigMaps(app).Get(ctx, "changed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["from"] = "edited"
	if _, err := kube.CoreV1().ConfigMaps(app).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	createConfigMaps(t, testCluster, app, "added")

	out := e.mustRun("backup", "diff", "before")
	t.Logf("ark backup diff:\n%s", out)
	for _, s := range []string{
		"1 only in the backup, 1 only in the cluster, 1 changed",
		"Only in the backup (1):\n  configmaps " + app + "/removed\n",
		"Only in the cluster (1):\n  configmaps " + app + "/added\n",
		"Changed (1):\n  configmaps " + app + "/changed\n    data.from: \"" + app + "\" -> \"edited\"\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("diff lacks %q", s)
		}
	}
	if strings.Contains(out, "Not compared") {
		t.Errorf("the admin could not compare everything:\n%s", out)
	}

	js := e.mustRun("backup", "diff", "before", "-o", "json", "--include-resources", "configmaps")
	var rep struct {
		OnlyInBackup  []map[string]string `json:"onlyInBackup"`
		OnlyInCluster []map[string]string `json:"onlyInCluster"`
		Changed       []struct {
			Name   string `json:"name"`
			Fields []struct {
				Path    string `json:"path"`
				Backup  any    `json:"backup"`
				Cluster any    `json:"cluster"`
			} `json:"fields"`
		} `json:"changed"`
		Unchanged int `json:"unchanged"`
	}
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if len(rep.OnlyInBackup) != 1 || rep.OnlyInBackup[0]["name"] != "removed" ||
		len(rep.OnlyInCluster) != 1 || rep.OnlyInCluster[0]["name"] != "added" ||
		len(rep.Changed) != 1 || rep.Changed[0].Name != "changed" || len(rep.Changed[0].Fields) != 1 || rep.Changed[0].Fields[0].Cluster != "edited" ||
		rep.Unchanged != 2 { // same, kube-root-ca.crt
		t.Errorf("json report:\n%s", js)
	}
	if _, err := e.run("backup", "diff", "before", "--exit-code"); err == nil {
		t.Error("--exit-code: no error although the backup and the cluster differ")
	}
}
