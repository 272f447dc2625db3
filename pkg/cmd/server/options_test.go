package server

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestWorkersFlags(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		want    map[string]int
		wantErr string
	}{
		{args: nil, want: map[string]int{"backup": 4, "restore": 4, "schedule": 1, "gc": 1, "download-request": 1, "backup-deletion": 1, "backup-verification": 1}},
		{args: []string{"--backup-workers=3", "--restore-workers", "2"}, want: map[string]int{"backup": 3, "restore": 2, "schedule": 1}},
		{args: []string{"--gc-workers=0"}, wantErr: "--gc-workers must be at least 1"},
		{args: []string{"--restore-item-workers=0"}, wantErr: "--restore-item-workers must be at least 1"},
	} {
		o := NewOptions()
		c := &cobra.Command{}
		o.BindFlags(c)
		if err := c.ParseFlags(tt.args); err != nil {
			t.Fatal(err)
		}
		err := o.Validate()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: Validate = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		for name, n := range tt.want {
			if o.Workers[name] != n {
				t.Errorf("%v: workers of %s = %d, want %d", tt.args, name, o.Workers[name], n)
			}
		}
	}
	// The backup sync is one periodic pass: no workers to count.
	c := &cobra.Command{}
	NewOptions().BindFlags(c)
	if err := c.ParseFlags([]string{"--backup-sync-workers=2"}); err == nil {
		t.Error("--backup-sync-workers accepted")
	}
}
