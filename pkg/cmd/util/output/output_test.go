package output

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   *metav1.Time
		want string
	}{
		{nil, "n/a"},
		{&metav1.Time{Time: now.Add(-time.Second)}, "<expired>"},
		{&metav1.Time{Time: now.Add(720 * time.Hour)}, "30d"},
		{&metav1.Time{Time: now.Add(5 * time.Hour)}, "5h"},
		{&metav1.Time{Time: now.Add(90 * time.Second)}, "90s"},
	}
	for _, tt := range tests {
		if got := Expires(tt.in, now); got != tt.want {
			t.Errorf("Expires(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
