package completion

import (
	"reflect"
	"testing"
)

func TestFilter(t *testing.T) {
	names := []string{"nginx-backup", "nightly-1", "daily-1"}
	tests := []struct {
		prefix string
		given  []string
		want   []string
	}{
		{"", nil, names},
		{"n", nil, []string{"nginx-backup", "nightly-1"}},
		{"n", []string{"nginx-backup"}, []string{"nightly-1"}},
		{"x", nil, nil},
	}
	for _, tt := range tests {
		if got := filter(names, tt.prefix, tt.given); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("filter(%q, %v) = %v, want %v", tt.prefix, tt.given, got, tt.want)
		}
	}
}
