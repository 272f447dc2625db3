//go:build integration

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/test/cluster"
)

// clusterDump lists every object of every listable resource and returns
// "group/resource ns/name" -> uid/resourceVersion. Leases, events and ark's
// own kinds are left out: the control plane and the ark server write them
// all the time (lease renewals, the Restore's status, download requests).
func clusterDump(t *testing.T, c *cluster.Cluster) map[string]string {
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
				out[fmt.Sprintf("%s %s/%s", gvr.GroupResource(), o.GetNamespace(), o.GetName())] = string(o.GetUID()) + "/" + o.GetResourceVersion()
			}
		}
	}
	return out
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// dumpDiff names the objects added, removed or changed between two dumps.
func dumpDiff(before, after map[string]string) []string {
	var out []string
	for k, v := range before {
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

	before := clusterDump(t, testCluster)
	out, err := e.run("restore", "create", "dry", "--name", "dry", "--dry-run", "--namespace-mappings", src1+":"+dst1+","+src2+":"+dst2, "--wait")
	if err == nil || !strings.Contains(err.Error(), "would fail on 1 items") {
		t.Fatalf("dry run: want an error saying one item would fail, got %v\n%s", err, out)
	}
	after := clusterDump(t, testCluster)
	if d := dumpDiff(before, after); len(d) > 0 {
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
