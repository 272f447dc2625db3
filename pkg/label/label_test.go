package label

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestValidValue(t *testing.T) {
	long := strings.Repeat("a", 50) + "-20261130101500-20261130101501"
	tests := []struct {
		name, want string
	}{
		{"nginx-backup", "nginx-backup"},
		{strings.Repeat("x", 63), strings.Repeat("x", 63)},
		{long, long[:57] + ValidValue(long)[57:]},
	}
	for _, tt := range tests {
		got := ValidValue(tt.name)
		if got != tt.want {
			t.Errorf("ValidValue(%q) = %q, want %q", tt.name, got, tt.want)
		}
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
			t.Errorf("ValidValue(%q) = %q is not a label value: %v", tt.name, got, errs)
		}
	}
	// Two long names with the same first 57 characters stay apart.
	a, b := ValidValue(strings.Repeat("a", 70)+"-1"), ValidValue(strings.Repeat("a", 70)+"-2")
	if a == b || len(a) != 63 || len(b) != 63 {
		t.Errorf("%q and %q", a, b)
	}
	// A prefix that ends in '-' or '.' still gives a valid value.
	if errs := validation.IsValidLabelValue(ValidValue(strings.Repeat("a", 56) + "-.bbbbbbbbbb")); len(errs) > 0 {
		t.Error(errs)
	}
	if got := Selector("ark.heptio.com/restore-name", "r"); got != "ark.heptio.com/restore-name=r" {
		t.Error(got)
	}
}
