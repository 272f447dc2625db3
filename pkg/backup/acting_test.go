package backup

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
)

// aliceRules is what the requester alice may do, as "verb resource
// namespace" ("" namespace: cluster-wide): edit in ns1, and nothing else.
var aliceRules = map[string]bool{}

func init() {
	for _, r := range []string{"configmaps", "secrets", "pods", "persistentvolumeclaims", "deployments.apps", "crontabs.stable.example.com", "events", "events.events.k8s.io"} {
		aliceRules["list "+r+" ns1"] = true
		aliceRules["get "+r+" ns1"] = true
	}
	aliceRules["get namespaces ns1"] = true
}

func allowedAs(rules map[string]bool, verb, group, resource, ns string) bool {
	if group != "" {
		resource += "." + group
	}
	return rules[verb+" "+resource+" "+ns]
}

// actingAs returns the Acting of a requester with these rules: a dynamic
// client over objs that answers Forbidden to what they may not do (as the
// API server does to an impersonated request), an executor that records the
// requester's execs, and an actor whose reviews the rules answer.
func actingAs(rules map[string]bool, rec *recorder, objs ...runtime.Object) *Acting {
	return actingAsReviewed(rules, rec, nil, objs...)
}

// actingAsReviewed is actingAs recording each review ("verb group resource
// namespace") in reviews, if not nil.
func actingAsReviewed(rules map[string]bool, rec, reviews *recorder, objs ...runtime.Object) *Acting {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds(), objs...)
	dyn.PrependReactor("*", "*", func(action clienttesting.Action) (bool, runtime.Object, error) {
		verb := action.GetVerb()
		if verb != "list" && verb != "get" {
			return false, nil, nil
		}
		gvr := action.GetResource()
		ns := action.GetNamespace()
		if gvr.Resource == "namespaces" && verb == "get" {
			ns = action.(clienttesting.GetAction).GetName()
		}
		if allowedAs(rules, verb, gvr.Group, gvr.Resource, ns) {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(gvr.GroupResource(), "", nil)
	})
	sar := fake.NewClientset()
	sar.PrependReactor("create", "subjectaccessreviews", func(action clienttesting.Action) (bool, runtime.Object, error) {
		r := action.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		a := r.Spec.ResourceAttributes
		if reviews != nil {
			reviews.add(strings.Join([]string{a.Verb, a.Group, a.Resource, a.Namespace}, " "))
		}
		r.Status.Allowed = allowedAs(rules, a.Verb, a.Group, a.Resource, a.Namespace)
		return true, r, nil
	})
	alice := authz.Requester{Username: "alice"}
	actor := authz.NewActor(&alice, &rest.Config{}, authz.NewReviewer(sar.AuthorizationV1()))
	return &Acting{Client: dyn, PodExec: &fakeExecutor{rec: rec}, Actor: actor}
}

// A backup acting as a requester lists only what they may list: what a
// wildcard selects and they may not list is left out, each left out a
// warning naming where; objects taken for their relations are read one by
// one as them, and one they may not get is left out with a warning (a
// volume then is not snapshotted). Hooks run through the requester's
// executor.
func TestBackupActsAsRequester(t *testing.T) {
	hooks := arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{{Name: "h",
		Pre: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Command: []string{"sync"}}}}}}}
	tests := []struct {
		name         string
		spec         arkv1.BackupSpec
		wantItems    []string
		wantWarnings []string
		wantEvents   []string
		wantLeftOut  string
		// reviewsOnce: no review is asked twice (with every namespace,
		// Reviewer asks a refused cluster-wide access again before asking
		// namespace by namespace).
		reviewsOnce bool
	}{
		{
			name: "her namespace",
			spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}, Hooks: hooks},
			wantItems: []string{"configmaps/namespaces/ns1/c1", "configmaps/namespaces/ns1/c2", "crontabs.stable.example.com/namespaces/ns1/ct1",
				"deployments.apps/namespaces/ns1/nginx", "namespaces/cluster/ns1", "persistentvolumeclaims/namespaces/ns1/claim1",
				"pods/namespaces/ns1/p1", "secrets/namespaces/ns1/s1"},
			wantWarnings: []string{"persistentvolumes pv1: alice may not get persistent volumes: the volume of claim ns1/claim1 is not in the backup and is not snapshotted",
				"customresourcedefinitions.apiextensions.k8s.io crontabs.stable.example.com: alice may not get custom resource definitions"},
			wantEvents:  []string{"exec ns1/p1/main sync"},
			wantLeftOut: "persistentvolumes pv1",
			reviewsOnce: true,
		},
		{
			name: "everything: what she may not list is left out, said where",
			spec: arkv1.BackupSpec{},
			wantItems: []string{"configmaps/namespaces/ns1/c1", "configmaps/namespaces/ns1/c2", "crontabs.stable.example.com/namespaces/ns1/ct1",
				"deployments.apps/namespaces/ns1/nginx", "namespaces/cluster/ns1", "persistentvolumeclaims/namespaces/ns1/claim1",
				"pods/namespaces/ns1/p1", "secrets/namespaces/ns1/s1"},
			wantWarnings: []string{"Resource left out of namespaces its requester may not list it in: configmaps: alice may not list it in heptio-ark, ns2, ns3",
				"Resource left out: its requester may not list it: clusterroles.rbac.authorization.k8s.io: alice may not list it",
				"Resource left out: its requester may not list it: persistentvolumes",
				"Resource left out: its requester may not list it: customresourcedefinitions.apiextensions.k8s.io"},
			wantLeftOut: "configmaps in namespaces heptio-ark, ns2, ns3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv()
			rec, reviews := &recorder{}, &recorder{}
			acting := actingAsReviewed(aliceRules, rec, reviews, testObjects()...)
			b := NewBackupper(e.disc, e.dyn, e.exec, e.snap, clocktesting.NewFakePassiveClock(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)),
				WithActing(func(*arkv1.Backup) (*Acting, error) { return acting, nil }))
			backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "b"}, Spec: tt.spec}
			var buf bytes.Buffer
			res, err := b.Backup(context.Background(), backup, &buf, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(readTarball(t, buf.Bytes()).items(), "\n"); got != strings.Join(tt.wantItems, "\n") {
				t.Errorf("items:\n%s\nwant:\n%s", got, strings.Join(tt.wantItems, "\n"))
			}
			all := strings.Join(res.Warnings, "\n")
			for _, w := range tt.wantWarnings {
				if !strings.Contains(all, w) {
					t.Errorf("warnings lack %q:\n%s", w, all)
				}
			}
			if len(res.Errors) > 0 {
				t.Errorf("errors: %q", res.Errors)
			}
			if got := strings.Join(res.LeftOut, "; "); !strings.Contains(got, tt.wantLeftOut) {
				t.Errorf("left out %q, want %q in it", got, tt.wantLeftOut)
			}
			if got := strings.Join(rec.list(), "\n"); got != strings.Join(tt.wantEvents, "\n") {
				t.Errorf("the requester's executor ran %q, want %q", got, tt.wantEvents)
			}
			for _, ev := range e.rec.list() {
				if strings.HasPrefix(ev, "exec") || ev == "snapshot pv1" {
					t.Errorf("the server's own executor or a refused volume's snapshot ran: %s", ev)
				}
			}
			// What the requester may list is asked once a backup (checkLists
			// asks it all before the first list).
			seen := map[string]bool{}
			for _, r := range reviews.list() {
				if seen[r] && tt.reviewsOnce {
					t.Errorf("review %q asked twice", r)
				}
				seen[r] = true
			}
			if len(seen) == 0 {
				t.Error("no review was asked")
			}
		})
	}
}

// What a backup names explicitly and its requester may not list fails
// validation before anything is written, naming it; an object without a
// requester is refused.
func TestBackupAuthorize(t *testing.T) {
	tests := []struct {
		name       string
		spec       arkv1.BackupSpec
		noActor    error
		wantDenial []string
	}{
		{name: "her namespace", spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}}},
		{name: "her namespace's secrets", spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1"}, IncludedResources: []string{"secrets"}}},
		{name: "everything: left out with warnings, not refused", spec: arkv1.BackupSpec{}},
		{name: "another namespace", spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns1", "ns2"}}, wantDenial: []string{"alice may not get namespaces ns2"}},
		{name: "another namespace's secrets", spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns2"}, IncludedResources: []string{"secrets", "cm"}},
			wantDenial: []string{"alice may not list configmaps in namespace ns2", "alice may not list secrets in namespace ns2"}},
		{name: "a cluster-scoped resource", spec: arkv1.BackupSpec{IncludedResources: []string{"pv"}}, wantDenial: []string{"alice may not list persistentvolumes (cluster-wide)"}},
		{name: "no requester", noActor: authz.ErrNoRequester, wantDenial: []string{authz.ErrNoRequester.Error()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv()
			acting := actingAs(aliceRules, &recorder{})
			b := NewBackupper(e.disc, e.dyn, e.exec, e.snap, nil, WithActing(func(*arkv1.Backup) (*Acting, error) { return acting, tt.noActor }))
			if err := e.disc.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := b.Authorize(context.Background(), &arkv1.Backup{Spec: tt.spec})
			if strings.Join(got, "\n") != strings.Join(tt.wantDenial, "\n") {
				t.Errorf("Authorize = %q, want %q", got, tt.wantDenial)
			}
		})
	}
	// Without WithActing (the server acting as itself) nothing is checked.
	e := newEnv()
	if got := NewBackupper(e.disc, e.dyn, nil, nil, nil).Authorize(context.Background(), &arkv1.Backup{Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"ns2"}}}); got != nil {
		t.Errorf("Authorize without acting = %q", got)
	}
}
