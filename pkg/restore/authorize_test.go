package restore

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
)

// A restore acting as its requester checks, before the first write, that
// they may create each kind in each target namespace and read it in each
// source namespace; refused, it fails validation naming what, with nothing
// written. A dry run is checked the same way.
func TestRestoreAuthorize(t *testing.T) {
	// alice edits team-a: she reads and writes configmaps and secrets there,
	// and gets her namespace; nothing else.
	alice := map[string]bool{}
	for _, r := range []string{"configmaps", "secrets"} {
		for _, v := range []string{"get", "list", "create", "patch", "update"} {
			alice[v+" "+r+" team-a"] = true
		}
	}
	alice["get namespaces team-a"] = true
	teamA := obj("v1", "Namespace", "", "team-a", nil)
	backup := func(t *testing.T) []byte {
		return makeTarball(t,
			item(t, "namespaces", teamA),
			item(t, "namespaces", obj("v1", "Namespace", "", "team-b", nil)),
			item(t, "configmaps", obj("v1", "ConfigMap", "team-a", "settings", nil)),
			item(t, "secrets", obj("v1", "Secret", "team-a", "mine", nil)),
			item(t, "secrets", obj("v1", "Secret", "team-b", "theirs", nil)),
			item(t, "persistentvolumes", obj("v1", "PersistentVolume", "", "pv1", map[string]any{"spec": map[string]any{"claimRef": map[string]any{"namespace": "team-b", "name": "data"}}})),
		)
	}
	tests := []struct {
		name     string
		mutate   func(*arkv1.RestoreSpec)
		noActor  bool
		wantErrs []string // empty: the restore runs
	}{
		{name: "her namespace", mutate: func(s *arkv1.RestoreSpec) { s.IncludedNamespaces = []string{"team-a"} }},
		{name: "her namespace, updating existing objects", mutate: func(s *arkv1.RestoreSpec) {
			s.IncludedNamespaces = []string{"team-a"}
			s.IncludedResources = []string{"configmaps", "secrets"}
			s.ExistingResourcePolicy = arkv1.ExistingResourcePolicyUpdate
		}},
		{name: "into team-b", mutate: func(s *arkv1.RestoreSpec) {
			s.IncludedNamespaces = []string{"team-a"}
			s.NamespaceMapping = map[string]string{"team-a": "team-b"}
		}, wantErrs: []string{"alice may not create configmaps in namespace team-b", "alice may not create secrets in namespace team-b"}},
		{name: "team-b's secret into team-a", mutate: func(s *arkv1.RestoreSpec) {
			s.IncludedNamespaces = []string{"team-b"}
			s.IncludedResources = []string{"secrets"}
			s.NamespaceMapping = map[string]string{"team-b": "team-a"}
		}, wantErrs: []string{"alice may not get secrets in namespace team-b", "alice may not list secrets in namespace team-b"}},
		{name: "the same as a dry run", mutate: func(s *arkv1.RestoreSpec) {
			s.IncludedNamespaces = []string{"team-b"}
			s.IncludedResources = []string{"secrets"}
			s.NamespaceMapping = map[string]string{"team-b": "team-a"}
			s.DryRun = true
		}, wantErrs: []string{"alice may not get secrets in namespace team-b"}},
		{name: "everything: the volume and the other namespace", wantErrs: []string{
			"alice may not create namespaces (cluster-wide)", "alice may not create persistentvolumes (cluster-wide)",
			"alice may not get namespaces team-b", "alice may not get secrets in namespace team-b"}},
		{name: "no requester", noActor: true, wantErrs: []string{"no requester recorded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sar := fake.NewClientset()
			sar.PrependReactor("create", "subjectaccessreviews", func(action clienttesting.Action) (bool, runtime.Object, error) {
				r := action.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
				a := r.Spec.ResourceAttributes
				res := a.Resource
				if a.Group != "" {
					res += "." + a.Group
				}
				r.Status.Allowed = alice[a.Verb+" "+res+" "+a.Namespace]
				return true, r, nil
			})
			var env *testEnv
			acting := func(*arkv1.Restore) (dynamic.Interface, *authz.Actor, error) {
				if tt.noActor {
					return nil, nil, authz.ErrNoRequester
				}
				r := authz.Requester{Username: "alice"}
				return env.client, authz.NewActor(&r, &rest.Config{}, authz.NewReviewer(sar.AuthorizationV1())), nil
			}
			env = newTestEnv(t, Options{Acting: acting}, &unstructured.Unstructured{Object: teamA})
			restore := newRestore("r", tt.mutate)
			if errs := env.restorer.Authorize(quietContext(), restore); tt.noActor != (len(errs) > 0) {
				t.Errorf("Authorize = %q", errs)
			}
			var log bytes.Buffer
			_, err := env.restorer.Restore(quietContext(), restore, &arkv1.Backup{}, bytes.NewReader(backup(t)), &log, nil)
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("Restore: %v", err)
				}
				if !env.exists(schemaGVR("", "v1", "configmaps"), "team-a", "settings") {
					t.Error("the ConfigMap was not restored")
				}
				return
			}
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("Restore: %v, want an InvalidError", err)
			}
			all := strings.Join(invalid.Errors, "\n")
			for _, want := range tt.wantErrs {
				if !strings.Contains(all, want) {
					t.Errorf("errors lack %q:\n%s", want, all)
				}
			}
			if got := env.creates(); len(got) > 0 {
				t.Errorf("a refused restore wrote: %v", got)
			}
		})
	}
}
