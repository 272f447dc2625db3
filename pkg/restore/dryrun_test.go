package restore

import (
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// dryRunServer makes the fake dynamic client answer dry-run creates as an
// API server does (AlreadyExists, NotFound for a missing namespace, an
// admission refusal for objects named "forbidden") without storing
// anything, and fails the test on any write that is not a dry run.
func dryRunServer(t *testing.T, env *testEnv) {
	tracker := env.client.Tracker()
	env.client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch a := a.(type) {
		case k8stesting.CreateActionImpl:
			if len(a.GetCreateOptions().DryRun) == 0 {
				t.Errorf("a create without dryRun: %s %s", a.GetResource().Resource, a.GetNamespace())
				return true, nil, apierrors.NewBadRequest("not a dry run")
			}
			o := a.GetObject().(*unstructured.Unstructured)
			gr := a.GetResource().GroupResource()
			if _, err := tracker.Get(a.GetResource(), a.GetNamespace(), o.GetName()); err == nil {
				return true, nil, apierrors.NewAlreadyExists(gr, o.GetName())
			}
			if ns := a.GetNamespace(); ns != "" {
				if _, err := tracker.Get(gvrNamespaces, "", ns); err != nil {
					return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ns)
				}
			}
			if o.GetName() == "forbidden" {
				return true, nil, apierrors.NewForbidden(gr, o.GetName(), errQuota)
			}
			return true, o, nil
		case k8stesting.UpdateActionImpl:
			if len(a.GetUpdateOptions().DryRun) == 0 {
				t.Errorf("an update without dryRun")
			}
			return true, a.GetObject(), nil
		case k8stesting.PatchActionImpl:
			if len(a.GetPatchOptions().DryRun) == 0 {
				t.Errorf("a patch without dryRun")
			}
		case k8stesting.DeleteActionImpl:
			t.Errorf("a delete in a dry run")
		}
		return false, nil, nil
	})
}

var errQuota = apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "forbidden", nil)

func init() {
	errQuota.ErrStatus.Message = "exceeded quota: q"
}

// A dry run's accounting: what would be created (and, in a namespace that
// does not exist, not validated by admission), left untouched, skipped and
// refused, by namespace; no volume is made, nothing is written.
func TestDryRunAccounting(t *testing.T) {
	existing := []runtime.Object{
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "ns1"}}},
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "default"}}},
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c1", "namespace": "ns1"}, "data": map[string]any{"k": "live"}}},
	}
	vr := &renamingRestorer{}
	env := newTestEnv(t, Options{VolumeRestorer: vr, Workers: 1}, existing...)
	dryRunServer(t, env)
	pv := obj("v1", "PersistentVolume", "", "pv1", map[string]any{"spec": map[string]any{"persistentVolumeReclaimPolicy": "Retain"}})
	owned := obj("v1", "Pod", "ns1", "p1", map[string]any{"metadata": map[string]any{"ownerReferences": []any{
		map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "d1", "uid": "u", "controller": true},
	}}})
	res, log := env.run(t, newRestore("dry", func(s *arkv1.RestoreSpec) { s.DryRun = true }), backupWithSnapshots(map[string]string{"pv1": "snap-1"}), makeTarball(t,
		item(t, "persistentvolumes", pv),
		item(t, "configmaps", cm("ns1", "c1")),
		item(t, "configmaps", cm("ns1", "c2")),
		item(t, "configmaps", cm("ns1", "forbidden")),
		item(t, "configmaps", cm("ns2", "c3")),
		item(t, "deployments.apps", obj("apps/v1", "Deployment", "ns1", "d1", nil)),
		item(t, "pods", owned),
	))
	if len(vr.calls) > 0 {
		t.Errorf("a volume was restored in a dry run: %v", vr.calls)
	}
	if res.Restored != 4 || res.Unvalidated != 1 || res.Existing != 1 || res.Skipped != 1 || res.Failed != 1 {
		t.Errorf("restored %d unvalidated %d existing %d skipped %d failed %d; want 4 1 1 1 1 (the bare namespace ns2 is listed, not counted, as in a restore)\n%s", res.Restored, res.Unvalidated, res.Existing, res.Skipped, res.Failed, log)
	}
	d := res.Results.DryRun
	if d == nil {
		t.Fatal("no dry-run results")
	}
	want := &format.DryRunResults{
		WouldCreate: map[string][]string{
			"":    {"namespaces ns2: not in the backup (or left out by the filters): made for the objects restored into it", "persistentvolumes pv1: snapshotID=snap-1"},
			"ns1": {"configmaps ns1/c2", "deployments.apps ns1/d1"},
			"ns2": {`configmaps ns2/c3: not validated by admission: namespace ns2 does not exist and would be created by this restore; the object's schema was checked by the API server in namespace "default"`},
		},
		Unchanged: map[string][]string{},
		Existing:  map[string][]string{"ns1": {"configmaps ns1/c1: differs from the backup (or may)"}},
		Skipped:   map[string][]string{"ns1": {"pods ns1/p1: controlled by Deployment d1 (in the backup), which recreates it"}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("dry-run results\n got %#v\nwant %#v", d, want)
	}
	if e := res.Results.Errors["ns1"]; len(e) != 1 || e[0] != `configmaps ns1/forbidden: create: configmaps "forbidden" is forbidden: exceeded quota: q` {
		t.Errorf("errors %q", res.Results.Errors)
	}
	for _, n := range []string{"c2", "c3", "forbidden"} {
		if env.exists(gvrConfigMaps, "ns1", n) || env.exists(gvrConfigMaps, "ns2", n) {
			t.Errorf("configmap %s created", n)
		}
	}
	if env.exists(gvrNamespaces, "", "ns2") || env.exists(gvrPVs, "", "pv1") {
		t.Error("a namespace or PV was created")
	}
}

// A real restore records no dry-run lists.
func TestNoDryRunResultsWithoutDryRun(t *testing.T) {
	env := newTestEnv(t, Options{})
	res, _ := env.run(t, newRestore("r", nil), nil, makeTarball(t, item(t, "configmaps", cm("ns1", "c1"))))
	if res.Results.DryRun != nil || res.Unvalidated != 0 {
		t.Errorf("dry-run results in a real restore: %+v", res.Results.DryRun)
	}
}
