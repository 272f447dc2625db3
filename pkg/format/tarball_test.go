package format

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestItemPath(t *testing.T) {
	for _, tt := range []struct {
		gr       schema.GroupResource
		ns, name string
		want     string
	}{
		{schema.GroupResource{Resource: "pods"}, "default", "p", "resources/pods/namespaces/default/p.json"},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "ns", "d", "resources/deployments.apps/namespaces/ns/d.json"},
		{schema.GroupResource{Resource: "persistentvolumes"}, "", "pv", "resources/persistentvolumes/cluster/pv.json"},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "", "system:a", "resources/clusterroles.rbac.authorization.k8s.io/cluster/system:a.json"},
	} {
		got := ItemPath(tt.gr, tt.ns, tt.name)
		if got != tt.want {
			t.Errorf("ItemPath = %s, want %s", got, tt.want)
		}
		// What ItemPath writes, ParseItemPath reads back.
		e, ok, note := ParseItemPath(got)
		if want := (Entry{Resource: tt.gr.String(), Namespace: tt.ns, Name: tt.name}); !ok || note != "" || e != want {
			t.Errorf("ParseItemPath(%s) = %+v, %v, %q, want %+v", got, e, ok, note, want)
		}
	}
}

func TestParseItemPath(t *testing.T) {
	for _, tt := range []struct {
		name     string
		want     Entry
		ok, note bool
	}{
		{name: "resources/Pods/namespaces/ns/p.json", want: Entry{Resource: "pods", Namespace: "ns", Name: "p"}, ok: true},
		{name: "resources/pods/v1-preferredversion/namespaces/ns/p.json", want: Entry{Resource: "pods", Namespace: "ns", Name: "p", Copy: PreferredCopy}, ok: true},
		{name: "resources/deployments.apps/v1beta1/cluster/d.json", want: Entry{Resource: "deployments.apps", Name: "d", Copy: OtherVersionCopy}, ok: true},
		{name: "metadata/other", note: true},
		{name: "resources/pods/namespaces/p.json", note: true},
		{name: "resources/pods/cluster/p.yaml", note: true},
		{name: "resources/pods/cluster/.json", note: true},
		{name: "resources/pods/elsewhere/ns/p.json", note: true},
	} {
		e, ok, note := ParseItemPath(tt.name)
		if e != tt.want || ok != tt.ok || (note != "") != tt.note {
			t.Errorf("ParseItemPath(%s) = %+v, %v, %q; want %+v, %v, note %v", tt.name, e, ok, note, tt.want, tt.ok, tt.note)
		}
	}
}
