package discovery

import (
	"context"
	"errors"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientdiscovery "k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

// fakeClient serves fixed groups; resources of the group versions in fail
// answer an error (as an unavailable aggregated API server would).
type fakeClient struct {
	groups    []metav1.APIGroup
	resources map[string]*metav1.APIResourceList
	fail      map[string]bool
	groupsErr error
}

func (f *fakeClient) ServerGroups() (*metav1.APIGroupList, error) {
	if f.groupsErr != nil {
		return nil, f.groupsErr
	}
	return &metav1.APIGroupList{Groups: f.groups}, nil
}

func (f *fakeClient) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	if f.fail[gv] {
		return nil, fmt.Errorf("503 service unavailable for %s", gv)
	}
	if l, ok := f.resources[gv]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("404 %s", gv)
}

func group(name, preferred string, versions ...string) metav1.APIGroup {
	g := metav1.APIGroup{Name: name}
	for _, v := range versions {
		gv := schema.GroupVersion{Group: name, Version: v}.String()
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: gv, Version: v})
		if v == preferred {
			g.PreferredVersion = metav1.GroupVersionForDiscovery{GroupVersion: gv, Version: v}
		}
	}
	return g
}

func res(name, singular, kind string, namespaced bool, short ...string) metav1.APIResource {
	return metav1.APIResource{Name: name, SingularName: singular, Kind: kind, Namespaced: namespaced,
		ShortNames: short, Verbs: metav1.Verbs{"list", "get", "create"}}
}

func newFake() *fakeClient {
	return &fakeClient{
		// the core group deliberately not first
		groups: []metav1.APIGroup{
			group("apps", "v1", "v1", "v1beta1"),
			group("", "v1", "v1"),
			group("events.k8s.io", "v1", "v1"),
			group("stable.example.com", "v2", "v1", "v2"),
			group("metrics.k8s.io", "v1beta1", "v1beta1"),
		},
		resources: map[string]*metav1.APIResourceList{
			"v1": {GroupVersion: "v1", APIResources: []metav1.APIResource{
				res("pods", "pod", "Pod", true, "po"),
				{Name: "pods/log", Kind: "Pod", Namespaced: true, Verbs: metav1.Verbs{"get"}},
				res("events", "event", "Event", true, "ev"),
				res("namespaces", "namespace", "Namespace", false, "ns"),
				res("persistentvolumes", "persistentvolume", "PersistentVolume", false, "pv"),
			}},
			"apps/v1": {GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
				res("deployments", "deployment", "Deployment", true, "deploy"),
				{Name: "deployments/scale", Kind: "Scale", Namespaced: true, Verbs: metav1.Verbs{"get", "update"}},
			}},
			"apps/v1beta1": {GroupVersion: "apps/v1beta1", APIResources: []metav1.APIResource{
				res("deployments", "deployment", "Deployment", true, "deploy"),
				res("oldthings", "oldthing", "OldThing", true),
			}},
			"events.k8s.io/v1": {GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{
				res("events", "event", "Event", true, "ev"),
			}},
			"stable.example.com/v1": {GroupVersion: "stable.example.com/v1", APIResources: []metav1.APIResource{
				res("crontabs", "crontab", "CronTab", true, "ct"),
			}},
			"stable.example.com/v2": {GroupVersion: "stable.example.com/v2", APIResources: []metav1.APIResource{
				res("crontabs", "crontab", "CronTab", true, "ct"),
			}},
		},
		fail: map[string]bool{"metrics.k8s.io/v1beta1": true},
	}
}

func TestRefreshPreferredVersions(t *testing.T) {
	h := NewHelper(newFake())
	if err := h.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range h.Resources() {
		got = append(got, r.GVR.String())
		if r.API.Group != r.GVR.Group || r.API.Version != r.GVR.Version {
			t.Errorf("%v: API group/version %q/%q not filled in", r.GVR, r.API.Group, r.API.Version)
		}
	}
	want := []string{
		"/v1, Resource=pods",
		"/v1, Resource=events",
		"/v1, Resource=namespaces",
		"/v1, Resource=persistentvolumes",
		"apps/v1, Resource=deployments",
		"apps/v1beta1, Resource=oldthings",
		"events.k8s.io/v1, Resource=events",
		"stable.example.com/v2, Resource=crontabs",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resources:\n got %v\nwant %v", got, want)
	}
	if names := h.FailedGroupNames(); fmt.Sprint(names) != "[metrics.k8s.io/v1beta1]" {
		t.Errorf("failed groups = %v", names)
	}
}

func TestRefreshGroupsError(t *testing.T) {
	f := newFake()
	f.groupsErr = errors.New("connection refused")
	h := NewHelper(f)
	if err := h.Refresh(context.Background()); err == nil {
		t.Fatal("want error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewHelper(newFake()).Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled refresh: %v", err)
	}
}

func TestResolveResource(t *testing.T) {
	h := NewHelper(newFake())
	if _, _, err := h.ResolveResource("pods"); !errors.Is(err, ErrResourceNotFound) {
		t.Fatalf("before refresh: %v", err)
	}
	if err := h.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string // GroupVersionResource.String(), "" for not found
	}{
		{"pods", "/v1, Resource=pods"},
		{"po", "/v1, Resource=pods"},
		{"pod", "/v1, Resource=pods"},
		{"Pod", "/v1, Resource=pods"},
		{"PODS", "/v1, Resource=pods"},
		{"deployments", "apps/v1, Resource=deployments"},
		{"deployments.apps", "apps/v1, Resource=deployments"},
		{"deploy", "apps/v1, Resource=deployments"},
		{"deployment", "apps/v1, Resource=deployments"},
		{"Deployment", "apps/v1, Resource=deployments"},
		{"deployment.apps", "apps/v1, Resource=deployments"},
		{"deployments.v1.apps", "apps/v1, Resource=deployments"},
		{"deployments.v1beta1.apps", ""},   // only the chosen version is known
		{"events", "/v1, Resource=events"}, // core wins an ambiguous name
		{"events.events.k8s.io", "events.k8s.io/v1, Resource=events"},
		{"ev.events.k8s.io", "events.k8s.io/v1, Resource=events"},
		{"crontabs.stable.example.com", "stable.example.com/v2, Resource=crontabs"},
		{"ct", "stable.example.com/v2, Resource=crontabs"},
		{"CronTab", "stable.example.com/v2, Resource=crontabs"},
		{"oldthings", "apps/v1beta1, Resource=oldthings"},
		{"pods/log", ""},
		{"deployments.extensions", ""},
		{"nothing", ""},
		{"", ""},
	}
	for _, tt := range tests {
		gvr, api, err := h.ResolveResource(tt.name)
		if tt.want == "" {
			if !errors.Is(err, ErrResourceNotFound) {
				t.Errorf("%q: got %v, %v; want not found", tt.name, gvr, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.name, err)
			continue
		}
		if gvr.String() != tt.want {
			t.Errorf("%q: got %v, want %v", tt.name, gvr, tt.want)
		}
		if api.Name != gvr.Resource {
			t.Errorf("%q: APIResource %q", tt.name, api.Name)
		}
	}
}

func TestResourceHelpers(t *testing.T) {
	r := Resource{GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
		API: metav1.APIResource{Verbs: metav1.Verbs{"get", "list"}}}
	if r.GroupResource().String() != "deployments.apps" {
		t.Errorf("GroupResource = %v", r.GroupResource())
	}
	if !r.HasVerb("list") || r.HasVerb("watch") {
		t.Errorf("HasVerb wrong")
	}
}

func TestClientGoFakeDiscovery(t *testing.T) {
	fd := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	fd.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{res("configmaps", "configmap", "ConfigMap", true, "cm")}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{res("deployments", "deployment", "Deployment", true, "deploy")}},
	}
	var c Client = fd // a full DiscoveryInterface satisfies the narrow one
	h := NewHelper(c)
	if err := h.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gvr, _, err := h.ResolveResource("cm"); err != nil || gvr.Resource != "configmaps" {
		t.Fatalf("cm: %v %v", gvr, err)
	}
	if n := len(h.Resources()); n != 2 {
		t.Fatalf("resources: %d", n)
	}
}

// aggregatedClient answers like a server with aggregated discovery, one
// group version of which is stale (its APIService is unavailable).
type aggregatedFake struct{ *fakeClient }

func (a aggregatedFake) GroupsAndMaybeResources() (*metav1.APIGroupList, map[schema.GroupVersion]*metav1.APIResourceList, map[schema.GroupVersion]error, error) {
	groups, _ := a.ServerGroups()
	byGV := map[schema.GroupVersion]*metav1.APIResourceList{}
	for gvs, l := range a.resources {
		gv, _ := schema.ParseGroupVersion(gvs)
		byGV[gv] = l
	}
	stale := map[schema.GroupVersion]error{{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("stale")}
	return groups, byGV, stale, nil
}

func (a aggregatedFake) ServerResourcesForGroupVersion(string) (*metav1.APIResourceList, error) {
	panic("aggregated discovery must not fetch group versions one by one")
}

func TestRefreshAggregated(t *testing.T) {
	h := NewHelper(aggregatedFake{newFake()})
	if err := h.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(h.Resources()); n != 8 {
		t.Errorf("resources: %d", n)
	}
	if names := h.FailedGroupNames(); fmt.Sprint(names) != "[metrics.k8s.io/v1beta1]" {
		t.Errorf("failed groups = %v", names)
	}
	if gvr, _, err := h.ResolveResource("ct"); err != nil || gvr.Version != "v2" {
		t.Errorf("ct: %v %v", gvr, err)
	}
}

// The real client must take the aggregated path.
var _ aggregatedClient = &clientdiscovery.DiscoveryClient{}
