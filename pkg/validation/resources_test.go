package validation

import (
	"errors"
	"reflect"
	"testing"
)

type fakeResources []string

func (f fakeResources) ResolveResource(name string) error {
	for _, n := range f {
		if n == name {
			return nil
		}
	}
	return errors.New("not found")
}

func (f fakeResources) ResourceNames() []string { return f }

func TestResourceFilters(t *testing.T) {
	res := fakeResources{"secrets", "configmaps", "cm", "deployments", "deployments.apps", "deploy", "pods", "po", "services", "svc"}
	tests := []struct {
		name               string
		includes, excludes []string
		want               []string
	}{
		{name: "known", includes: []string{"deployments.apps", "cm"}, excludes: []string{"secrets"}},
		{name: "all", includes: []string{"*"}},
		{name: "typo in exclude", includes: []string{"*"}, excludes: []string{"secrts"},
			want: []string{`excluded resource "secrts" is not served by the cluster (did you mean secrets?)`}},
		{name: "typo in include", includes: []string{"deploymnets"},
			want: []string{`included resource "deploymnets" is not served by the cluster (did you mean deployments?)`}},
		{name: "nothing close", includes: []string{"widgets"},
			want: []string{`included resource "widgets" is not served by the cluster`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResourceFilters(res, tt.includes, tt.excludes); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := ResourceFilters(nil, []string{"anything"}, nil); got != nil {
		t.Errorf("nil resources: %q", got)
	}
}

func TestCloseMatches(t *testing.T) {
	names := []string{"pods", "po", "services", "svc", "secrets", "serviceaccounts"}
	for _, tt := range []struct {
		name string
		want []string
	}{
		{"pod", []string{"po", "pods"}},
		{"secret", []string{"secrets"}},
		{"servics", []string{"services"}},
		{"xyz", nil},
	} {
		if got := CloseMatches(tt.name, names, 3); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CloseMatches(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
