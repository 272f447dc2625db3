package collections

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestShouldInclude(t *testing.T) {
	tests := []struct {
		name               string
		includes, excludes []string
		item               string
		want, all          bool
	}{
		{"empty includes all", nil, nil, "a", true, true},
		{"star includes all", []string{"*"}, nil, "a", true, true},
		{"listed", []string{"a", "b"}, nil, "a", true, false},
		{"not listed", []string{"a", "b"}, nil, "c", false, false},
		{"excluded", nil, []string{"a"}, "a", false, false},
		{"other excluded", nil, []string{"a"}, "b", true, false},
		{"exclude wins", []string{"a"}, []string{"a"}, "a", false, false},
		{"exclude wins over star", []string{"*"}, []string{"a"}, "a", false, false},
		{"star in excludes excludes all", nil, []string{"*"}, "a", false, false},
		{"empty strings ignored", []string{""}, []string{""}, "a", true, true},
	}
	for _, tt := range tests {
		ie := NewIncludesExcludes(tt.includes, tt.excludes)
		if got := ie.ShouldInclude(tt.item); got != tt.want {
			t.Errorf("%s: ShouldInclude(%q) = %v", tt.name, tt.item, got)
		}
		if got := ie.IncludesAll(); got != tt.all {
			t.Errorf("%s: IncludesAll = %v", tt.name, got)
		}
	}
	var zero *IncludesExcludes
	if !zero.ShouldInclude("x") || !zero.IncludesAll() || zero.IsExcluded("x") {
		t.Error("nil IncludesExcludes must include everything")
	}
	ie := NewIncludesExcludes([]string{"a"}, []string{"b"})
	if !ie.IsExcluded("b") || ie.IsExcluded("c") || !ie.IsExplicitlyIncluded("a") || ie.IsExplicitlyIncluded("c") {
		t.Error("IsExcluded/IsExplicitlyIncluded wrong")
	}
	if NewIncludesExcludes([]string{"*"}, nil).IsExplicitlyIncluded("a") {
		t.Error("* is not explicit")
	}
	if s := ie.String(); s != "includes=[a], excludes=[b]" {
		t.Errorf("String = %q", s)
	}
	if s := NewIncludesExcludes(nil, nil).String(); s != "includes=[*], excludes=[]" {
		t.Errorf("String = %q", s)
	}
}

func TestValidateIncludesExcludes(t *testing.T) {
	tests := []struct {
		includes, excludes []string
		want               []string
	}{
		{nil, nil, nil},
		{[]string{"a"}, []string{"b"}, nil},
		{[]string{"*"}, []string{"b"}, nil},
		{[]string{"a", "b"}, []string{"b", "a"}, []string{`"a" is both included and excluded`, `"b" is both included and excluded`}},
		{nil, []string{"*"}, []string{`excludes list cannot contain "*"`}},
		{[]string{"*"}, []string{"*"}, []string{`excludes list cannot contain "*"`, `"*" is both included and excluded`}},
	}
	for _, tt := range tests {
		var got []string
		for _, e := range ValidateIncludesExcludes(tt.includes, tt.excludes) {
			got = append(got, e.Error())
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%v/%v: got %q want %q", tt.includes, tt.excludes, got, tt.want)
		}
	}
}

type resolver map[string]schema.GroupVersionResource

func (r resolver) ResolveResource(name string) (schema.GroupVersionResource, metav1.APIResource, error) {
	if gvr, ok := r[name]; ok {
		return gvr, metav1.APIResource{Name: gvr.Resource}, nil
	}
	return schema.GroupVersionResource{}, metav1.APIResource{}, errors.New("not found")
}

func TestResolveResources(t *testing.T) {
	deploy := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	r := resolver{"deploy": deploy, "deployments.apps": deploy, "po": pods, "pods": pods}

	ie, err := ResolveResources(r, []string{"deploy", "po"}, []string{"pods"})
	if err != nil {
		t.Fatal(err)
	}
	if !ie.ShouldInclude("deployments.apps") || ie.ShouldInclude("pods") || ie.ShouldInclude("secrets") {
		t.Errorf("got %v", ie)
	}
	ie, err = ResolveResources(r, []string{"*"}, nil)
	if err != nil || !ie.IncludesAll() {
		t.Errorf("star: %v %v", ie, err)
	}
	_, err = ResolveResources(r, []string{"deploy", "foo"}, []string{"bar", "po"})
	if err == nil || !strings.Contains(err.Error(), "unknown resources: bar, foo") {
		t.Errorf("unknown: %v", err)
	}
}
