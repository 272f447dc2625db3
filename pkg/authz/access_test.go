package authz

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// fakeAuthorizer answers SubjectAccessReviews from a set of allowed
// "user verb resource namespace" lines ("*" namespace: every namespace),
// and records what it was asked.
type fakeAuthorizer struct {
	allowed map[string]bool
	fail    error
	mu      sync.Mutex
	asked   []string
}

func (f *fakeAuthorizer) client() *fake.Clientset {
	c := fake.NewClientset()
	c.PrependReactor("create", "subjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		sar := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		if f.fail != nil {
			return true, nil, f.fail
		}
		a := sar.Spec.ResourceAttributes
		res := a.Resource
		if a.Group != "" {
			res += "." + a.Group
		}
		ns := a.Namespace
		if ns == "" {
			ns = "*"
		}
		line := strings.Join([]string{sar.Spec.User, a.Verb, res, ns}, " ")
		f.mu.Lock()
		f.asked = append(f.asked, line)
		f.mu.Unlock()
		allowed := f.allowed[line] || f.allowed[strings.Join([]string{sar.Spec.User, a.Verb, res, "*"}, " ")] ||
			f.allowed[sar.Spec.User+" * * *"]
		sar.Status.Allowed = allowed
		return true, sar, nil
	})
	return c
}

func TestReviewerRefused(t *testing.T) {
	alice := Requester{Username: "alice", Groups: []string{"system:authenticated"}}
	admin := Requester{Username: "admin", Groups: []string{"system:masters"}}
	rules := map[string]bool{
		"alice list secrets team-a":     true,
		"alice list configmaps team-a":  true,
		"alice list configmaps team-c":  true,
		"alice get namespaces team-a":   true,
		"alice list deployments.apps *": true,
		"admin * * *":                   true,
	}
	tests := []struct {
		name      string
		who       Requester
		accesses  []Access
		want      []string
		maxAsked  int
		wantAsked []string
	}{
		{
			name: "all allowed in one namespace",
			who:  alice,
			accesses: []Access{{Verb: "list", Resource: "secrets", Namespace: "team-a"},
				{Verb: "list", Resource: "configmaps", Namespace: "team-a"}},
		},
		{
			name: "refused in another namespace, named",
			who:  alice,
			accesses: []Access{{Verb: "list", Resource: "secrets", Namespace: "team-a"}, {Verb: "list", Resource: "secrets", Namespace: "team-b"},
				{Verb: "list", Resource: "configmaps", Namespace: "team-c"}},
			want: []string{"list secrets in namespace team-b"},
		},
		{
			name:     "cluster-wide and namespace objects",
			who:      alice,
			accesses: []Access{{Verb: "list", Resource: "persistentvolumes"}, {Verb: "get", Resource: "namespaces", Namespace: "team-a", Name: "team-a"}, {Verb: "get", Resource: "namespaces", Namespace: "team-b", Name: "team-b"}},
			want:     []string{"get namespaces team-b", "list persistentvolumes (cluster-wide)"},
		},
		{
			name: "allowed cluster-wide covers every namespace in one review",
			who:  alice,
			accesses: []Access{{Verb: "list", Group: "apps", Resource: "deployments", Namespace: "a"}, {Verb: "list", Group: "apps", Resource: "deployments", Namespace: "b"},
				{Verb: "list", Group: "apps", Resource: "deployments", Namespace: "c"}},
			wantAsked: []string{"alice list deployments.apps *"},
		},
		{
			name: "a cluster admin: one review per verb and resource",
			who:  admin,
			accesses: []Access{{Verb: "get", Resource: "secrets", Namespace: "a"}, {Verb: "get", Resource: "secrets", Namespace: "b"},
				{Verb: "get", Resource: "secrets", Namespace: "a"}, {Verb: "create", Resource: "secrets", Namespace: "b"}, {Verb: "create", Resource: "secrets", Namespace: "c"}},
			wantAsked: []string{"admin create secrets *", "admin get secrets *"},
		},
		{name: "nothing asked", who: alice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAuthorizer{allowed: rules}
			refused, err := NewReviewer(f.client().AuthorizationV1()).Refused(context.Background(), tt.who, tt.accesses)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range refused {
				got = append(got, a.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("refused %q, want %q", got, tt.want)
			}
			if tt.wantAsked != nil {
				asked := append([]string(nil), f.asked...)
				sort.Strings(asked)
				if !reflect.DeepEqual(asked, tt.wantAsked) {
					t.Errorf("asked %q, want %q", asked, tt.wantAsked)
				}
			}
		})
	}
}

// A review the API server does not answer is an error: nothing is taken as
// allowed.
func TestReviewerFailsClosed(t *testing.T) {
	f := &fakeAuthorizer{fail: errors.New("connection refused")}
	_, err := NewReviewer(f.client().AuthorizationV1()).Refused(context.Background(), Requester{Username: "alice"},
		[]Access{{Verb: "list", Resource: "secrets", Namespace: "a"}})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v", err)
	}
}

func TestTenancy(t *testing.T) {
	base := &rest.Config{Host: "https://example", BearerToken: "server-token"}
	f := &fakeAuthorizer{allowed: map[string]bool{"alice list secrets team-a": true}}
	withRequester := &arkv1.Backup{}
	SetRequester(withRequester, Requester{Username: "alice", Groups: []string{"team", "system:authenticated"}})
	tests := []struct {
		name         string
		singleTenant bool
		obj          *arkv1.Backup
		wantErr      string
		wantUser     string
		wantChecked  bool
	}{
		{name: "multi-tenant acts as the requester", obj: withRequester, wantUser: "alice", wantChecked: true},
		{name: "multi-tenant refuses an object without requester", obj: &arkv1.Backup{}, wantErr: "ark CLI"},
		{name: "single-tenant acts as the server", singleTenant: true, obj: withRequester},
		{name: "single-tenant accepts an object without requester", singleTenant: true, obj: &arkv1.Backup{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenancy := NewTenancy(base, f.client().AuthorizationV1(), tt.singleTenant)
			a, err := tenancy.ActorFor(tt.obj)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrNoRequester) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Config().Impersonate.UserName; got != tt.wantUser {
				t.Errorf("impersonates %q, want %q", got, tt.wantUser)
			}
			if tt.wantUser != "" && !reflect.DeepEqual(a.Config().Impersonate.Groups, []string{"team", "system:authenticated"}) {
				t.Errorf("groups %q", a.Config().Impersonate.Groups)
			}
			if a.Config().BearerToken != "server-token" || base.Impersonate.UserName != "" {
				t.Error("the server's config was changed or not used")
			}
			if a.Checked() != tt.wantChecked {
				t.Errorf("checked = %v", a.Checked())
			}
			refused, err := a.Refused(context.Background(), []Access{{Verb: "list", Resource: "secrets", Namespace: "team-b"}})
			if err != nil {
				t.Fatal(err)
			}
			if (len(refused) > 0) != tt.wantChecked {
				t.Errorf("refused %v (checked %v)", refused, tt.wantChecked)
			}
		})
	}
}

func TestDownloadsAuthorize(t *testing.T) {
	list := format.ResourceList{
		"v1/Secret":             {"team-a/s1", "team-b/s2"},
		"v1/Namespace":          {"team-a", "team-b"},
		"apps/v1/Deployment":    {"team-a/web"},
		"example.com/v1/Widget": {"team-a/w"},
	}
	resource := func(gvk schema.GroupVersionKind) (schema.GroupResource, bool) {
		switch gvk.Kind {
		case "Secret":
			return schema.GroupResource{Resource: "secrets"}, true
		case "Namespace":
			return schema.GroupResource{Resource: "namespaces"}, true
		case "Deployment":
			return schema.GroupResource{Group: "apps", Resource: "deployments"}, true
		}
		return schema.GroupResource{}, false
	}
	teamA := map[string]bool{"alice get secrets team-a": true, "alice get namespaces team-a": true, "alice get deployments.apps team-a": true, "alice get widgets.example.com team-a": true}
	both := map[string]bool{"bob get secrets *": true, "bob get namespaces team-a": true, "bob get namespaces team-b": true, "bob get deployments.apps *": true, "bob get widgets.example.com *": true}
	tests := []struct {
		name    string
		who     string
		allowed map[string]bool
		noList  bool
		single  bool
		wantErr string
	}{
		{name: "team-a only: refused, naming team-b's secrets", who: "alice", allowed: teamA, wantErr: "alice may not get secrets in namespace team-b"},
		{name: "may read both namespaces", who: "bob", allowed: both},
		{name: "no resource list: only who may read everything", who: "bob", allowed: both, noList: true, wantErr: "no resource list"},
		{name: "no resource list, cluster reader", who: "root", allowed: map[string]bool{"root get *.* *": true}, noList: true},
		{name: "single-tenant grants all", who: "alice", single: true},
		{name: "no requester", wantErr: "no requester"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAuthorizer{allowed: tt.allowed}
			d := &Downloads{
				Tenancy: NewTenancy(&rest.Config{}, f.client().AuthorizationV1(), tt.single),
				ResourceList: func(context.Context, string) (format.ResourceList, bool, error) {
					return list, !tt.noList, nil
				},
				Resource: resource,
			}
			req := &arkv1.DownloadRequest{ObjectMeta: metav1.ObjectMeta{Name: "d"}}
			if tt.who != "" {
				SetRequester(req, Requester{Username: tt.who})
			}
			err := d.Authorize(context.Background(), req, "b1")
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestContentsAccessGuessesUnknownKinds(t *testing.T) {
	got := ContentsAccess(format.ResourceList{"example.com/v1/Widget": {"a/w1", "a/w2", "b/w3"}, "v1/PersistentVolume": {"pv1"}},
		func(schema.GroupVersionKind) (schema.GroupResource, bool) { return schema.GroupResource{}, false })
	var lines []string
	for _, a := range got {
		lines = append(lines, a.String())
	}
	sort.Strings(lines)
	want := []string{"get persistentvolumes (cluster-wide)", "get widgets.example.com in namespace a", "get widgets.example.com in namespace b"}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got %q, want %q", lines, want)
	}
}
